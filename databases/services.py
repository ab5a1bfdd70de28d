"""Writes about users' databases: passwords, databases, consoles, the add-on, account removal.

Each service owns its transaction and changes Warren's rows only; the database servers are
changed by databases.tasks, enqueued on commit, so a web request never waits on one (the page
shows "Creating…" until the task is done).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.limits import effective_limits
from accounts.models import User
from config.errors import AppError
from databases import clientfiles, engines, tasks
from databases.models import Database, DatabaseAccount, DatabaseServer

KIND_NAMES = {DatabaseServer.Kind.MYSQL: "MySQL", DatabaseServer.Kind.POSTGRES: "PostgreSQL"}
# The longest name each engine keeps (MariaDB 64 characters; PostgreSQL 63 bytes).
NAME_MAX = {DatabaseServer.Kind.MYSQL: 64, DatabaseServer.Kind.POSTGRES: 63}
NAME_RE = re.compile(r"[A-Za-z0-9_]+\Z")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
PASSWORD_FORBIDDEN = set("'\"`\\")


# --- input --------------------------------------------------------------------------------


def password_check(password: str) -> str:
    """The password if the engines and the client files can take it, else an AppError."""
    password = password or ""
    if len(password) < PASSWORD_MIN:
        raise AppError(f"Use at least {PASSWORD_MIN} characters.", field="password")
    if len(password) > PASSWORD_MAX:
        raise AppError(f"Keep it under {PASSWORD_MAX} characters.", field="password")
    if any(c in PASSWORD_FORBIDDEN for c in password):
        raise AppError("Leave out quotes, backticks and backslashes.", field="password")
    if not all("!" <= c <= "~" for c in password):
        raise AppError(
            "Use letters, digits and punctuation only (no spaces or accents).", field="password"
        )
    return password


def database_full_name(*, account: DatabaseAccount, name: str) -> str:
    """``<username>$<name>`` if ``name`` is a usable database name, else an AppError."""
    name = name or ""
    if not name:
        raise AppError("Give the database a name.", field="name")
    if not NAME_RE.match(name):
        raise AppError(
            "Use only letters, digits and underscores (no spaces, quotes, $ or %).", field="name"
        )
    full = f"{account.user.username}${name}"
    room = NAME_MAX[account.server.kind] - len(account.server.name_prefix)
    if len(full) > room:
        longest = room - len(account.user.username) - 1
        raise AppError(f"Keep the name to {longest} characters or fewer.", field="name")
    return full


def engine_name(account: DatabaseAccount, name: str) -> str:
    """A Warren-side database name as the server knows it (with the server's prefix)."""
    return account.server.name_prefix + name


# --- accounts -----------------------------------------------------------------------------


def _server_for_new_account(kind: str) -> DatabaseServer:
    server = (
        DatabaseServer.objects.filter(kind=kind, is_active=True)
        .annotate(account_count=Count("accounts"))
        .order_by("account_count", "pk")
        .first()
    )
    if server is None:
        raise AppError(f"No {KIND_NAMES[kind]} server is available right now.", status=503)
    return server


def _require_kind_allowed(user: User, kind: str) -> None:
    if kind == DatabaseServer.Kind.POSTGRES and not effective_limits(user).postgres_allowed:
        raise AppError("PostgreSQL is a paid add-on: add it to your plan first.", status=403)
    if kind not in KIND_NAMES:
        raise AppError("Unknown kind of database.")


@transaction.atomic
def database_password_set(*, user: User, kind: str, password: str) -> DatabaseAccount:
    """Set (or change) the user's MySQL or PostgreSQL password; the login is made on commit.

    The client file (~/.my.cnf or ~/.pgpass) is written now, as the user; the server gets
    only the engine's hash of the password, through a task.
    """
    _require_kind_allowed(user, kind)
    password = password_check(password)
    User.objects.select_for_update().filter(pk=user.pk).first()
    account = (
        DatabaseAccount.objects.select_for_update()
        .select_related("server")
        .filter(user=user, server__kind=kind)
        .first()
    )
    if account is None:
        server = _server_for_new_account(kind)
        account = DatabaseAccount(
            user=user, server=server, login=server.name_prefix + user.username
        )
    if account.state == DatabaseAccount.State.SUSPENDED:
        raise AppError("Your PostgreSQL access is suspended until the add-on is back.")
    account.pending_verifier = engines.verifier_for(account.server, password)
    if account.state == DatabaseAccount.State.FAILED:
        account.state = DatabaseAccount.State.CREATING
    account.error = ""
    account.save()
    _client_file_write(user, account, password)
    transaction.on_commit(lambda: tasks.account_apply.delay(account.pk))
    return account


def _client_file_write(user: User, account: DatabaseAccount, password: str) -> None:
    server = account.server
    details = {"host": server.host, "port": server.port, "login": account.login}
    if server.kind == DatabaseServer.Kind.MYSQL:
        name, content = ".my.cnf", clientfiles.my_cnf(**details, password=password)
    else:
        name, content = ".pgpass", clientfiles.pgpass_line(**details, password=password)
    clientfiles.private_file_write(user=user, name=name, content=content)


# --- databases ----------------------------------------------------------------------------


@transaction.atomic
def database_create(*, user: User, kind: str, name: str) -> Database:
    """Add a database ``<username>$<name>``; the server creates it on commit (a task)."""
    _require_kind_allowed(user, kind)
    account = (
        DatabaseAccount.objects.select_for_update()
        .select_related("server", "user")
        .filter(user=user, server__kind=kind)
        .first()
    )
    if account is None:
        raise AppError(f"Set a {KIND_NAMES[kind]} password first.")
    if account.state == DatabaseAccount.State.SUSPENDED:
        raise AppError("Your PostgreSQL access is suspended until the add-on is back.")
    full = database_full_name(account=account, name=name)
    if account.databases.filter(name=full).exists():
        raise AppError(f"You already have a database called {full}.", field="name")
    # Every kind counts towards one limit: a user's databases, wherever they are.
    limit = settings.WARREN_DATABASES_PER_USER
    if Database.objects.filter(account__user=user).count() >= limit:
        raise AppError(f"You can have {limit} databases; delete one first.")
    database = Database.objects.create(account=account, name=full)
    transaction.on_commit(lambda: tasks.database_create.delay(database.pk))
    return database


@transaction.atomic
def database_delete(*, database: Database, confirmation: str) -> None:
    """Drop a database (the user typed its name to confirm); the server drops it on commit."""
    database = Database.objects.select_for_update().get(pk=database.pk)
    if (confirmation or "").strip() != database.name:
        raise AppError(f"Type {database.name} to confirm.", field="confirmation")
    if database.state == Database.State.DELETING:
        return
    database.state = Database.State.DELETING
    database.save(update_fields=["state"])
    transaction.on_commit(lambda: tasks.database_drop.delay(database.pk))


# --- consoles -----------------------------------------------------------------------------


@transaction.atomic
def database_console_start(*, user: User, kind: str):
    """Start a MySQL or psql console logged in as the user (the password from the client file)."""
    from consoles.models import Console
    from consoles.services.consoles import create_console

    _require_kind_allowed(user, kind)
    account = (
        DatabaseAccount.objects.select_related("server")
        .filter(user=user, server__kind=kind, state=DatabaseAccount.State.READY)
        .first()
    )
    if account is None:
        raise AppError(f"Set a {KIND_NAMES[kind]} password first (and wait for it to be ready).")
    server = account.server
    if kind == DatabaseServer.Kind.MYSQL:
        # mysql reads host, port, user and password from ~/.my.cnf.
        title, argv = "MySQL", ["mysql"]
    else:
        first = account.databases.filter(state=Database.State.READY).first()
        dbname = engine_name(account, first.name) if first else "postgres"
        title = "PostgreSQL"
        argv = ["psql", "-h", server.host, "-p", str(server.port), "-U", account.login, dbname]
    return create_console(
        owner=user, kind=Console.Kind.BASH, title=title, argv=argv, cwd=user.home_path
    )


# --- the PostgreSQL add-on and account removal --------------------------------------------


@transaction.atomic
def postgres_access_sync(*, user: User) -> None:
    """Suspend or restore the user's PostgreSQL login after a plan change.

    Without the add-on the role becomes NOLOGIN and its data is kept for
    WARREN_DATABASE_GRACE_DAYS (a warning email says until when); with it again within that
    time, the role logs in again with everything as it was.
    """
    allowed = effective_limits(user).postgres_allowed
    for account in DatabaseAccount.objects.select_for_update().filter(
        user=user, server__kind=DatabaseServer.Kind.POSTGRES
    ):
        suspended = account.state == DatabaseAccount.State.SUSPENDED
        if not allowed and not suspended:
            account.state = DatabaseAccount.State.SUSPENDED
            account.suspended_at = timezone.now()
            account.save(update_fields=["state", "suspended_at"])
            transaction.on_commit(lambda pk=account.pk: tasks.account_suspend.delay(pk))
        elif allowed and suspended:
            account.state = DatabaseAccount.State.CREATING
            account.suspended_at = None
            account.warned_at = None
            account.save(update_fields=["state", "suspended_at", "warned_at"])
            transaction.on_commit(lambda pk=account.pk: tasks.account_restore.delay(pk))


def database_accounts_remove(*, user: User) -> None:
    """Drop every database and login the user has, on every server (their account is going).

    Called before the user's rows go; the servers are cleaned by tasks on commit, which take
    the server and login (the rows will be gone by then).
    """
    for account in DatabaseAccount.objects.filter(user=user):
        server_id, login = account.server_id, account.login
        transaction.on_commit(lambda s=server_id, n=login: tasks.account_drop.delay(s, n))
