"""Tasks that make users' database servers match Warren's rows.

Each takes ids, is idempotent (CREATE ... IF NOT EXISTS, DROP ... IF EXISTS, ALTER again) and
acks_late. A server that does not answer is retried with backoff up to
WARREN_DATABASE_RETRY_MAX times; then the row is marked failed with a message the page shows,
and a failed database creation is dropped again so nothing half-made stays behind. Every call
opens and closes its own connection (databases.engines): no idle connection is kept.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from databases.engines import DatabaseServerDown, EngineError, engine
from databases.models import Database, DatabaseAccount, DatabaseServer

logger = logging.getLogger(__name__)

DOWN = "The database server is not answering right now; try again in a few minutes."


def _retry_or_give_up(task, exc: DatabaseServerDown) -> bool:
    """Schedule a retry (True) while any are left; False once it is time to give up."""
    if task.request.is_eager or task.request.retries >= settings.WARREN_DATABASE_RETRY_MAX:
        return False
    raise task.retry(exc=exc, countdown=min(300, 5 * 2**task.request.retries))


@shared_task(bind=True, acks_late=True, max_retries=None)
def account_apply(self, account_id: int) -> None:
    """Create the login (or set its new password) from the verifier the service stored."""
    account = DatabaseAccount.objects.select_related("server").filter(pk=account_id).first()
    if account is None or not account.pending_verifier:
        return
    verifier = account.pending_verifier
    try:
        engine(account.server).account_ensure(
            login=account.login,
            verifier=verifier,
            connections=settings.WARREN_DATABASE_USER_CONNECTIONS,
        )
    except DatabaseServerDown as exc:
        logger.warning("account_apply %s: server down (%s)", account.login, exc)
        if not _retry_or_give_up(self, exc):
            _account_failed(account, verifier, DOWN)
        return
    except EngineError as exc:
        logger.error("account_apply %s: %s", account.login, exc)
        _account_failed(account, verifier, "The database server refused: " + str(exc)[:200])
        return
    # Conditional: a password set again meanwhile stays pending for its own task.
    DatabaseAccount.objects.filter(pk=account.pk, pending_verifier=verifier).exclude(
        state=DatabaseAccount.State.SUSPENDED
    ).update(state=DatabaseAccount.State.READY, pending_verifier="", error="")


def _account_failed(account: DatabaseAccount, verifier: str, message: str) -> None:
    DatabaseAccount.objects.filter(pk=account.pk, pending_verifier=verifier).update(
        state=DatabaseAccount.State.FAILED, pending_verifier="", error=message
    )


@shared_task(bind=True, acks_late=True, max_retries=None)
def database_create(self, database_id: int) -> None:
    """CREATE DATABASE for the row; on failure, drop whatever was made and mark it failed."""
    database = Database.objects.select_related("account__server").filter(pk=database_id).first()
    if database is None or database.state != Database.State.CREATING:
        return
    account = database.account
    if account.state == DatabaseAccount.State.FAILED:
        _database_failed(database, "Your login could not be made: set your password again.")
        return
    # The login's own task has not run yet (PostgreSQL needs the owner to exist first).
    waiting = account.pending_verifier and not self.request.is_eager
    if waiting and self.request.retries < settings.WARREN_DATABASE_RETRY_MAX:
        raise self.retry(countdown=2)
    name = account.server.name_prefix + database.name
    adapter = engine(account.server)
    try:
        adapter.database_create(name=name, owner=account.login)
    except DatabaseServerDown as exc:
        logger.warning("database_create %s: server down (%s)", name, exc)
        if not _retry_or_give_up(self, exc):
            _database_failed(database, DOWN)
        return
    except EngineError as exc:
        logger.error("database_create %s: %s", name, exc)
        try:
            adapter.database_drop(name=name)
        except (DatabaseServerDown, EngineError):
            logger.exception("database_create %s: could not clean up", name)
        _database_failed(database, "The database server refused: " + str(exc)[:200])
        return
    Database.objects.filter(pk=database.pk, state=Database.State.CREATING).update(
        state=Database.State.READY, error=""
    )


def _database_failed(database: Database, message: str) -> None:
    Database.objects.filter(pk=database.pk, state=Database.State.CREATING).update(
        state=Database.State.FAILED, error=message
    )


@shared_task(bind=True, acks_late=True, max_retries=None)
def database_drop(self, database_id: int) -> None:
    """DROP DATABASE for a row marked deleting, then forget the row."""
    database = Database.objects.select_related("account__server").filter(pk=database_id).first()
    if database is None or database.state != Database.State.DELETING:
        return
    server = database.account.server
    try:
        engine(server).database_drop(name=server.name_prefix + database.name)
    except DatabaseServerDown as exc:
        if not _retry_or_give_up(self, exc):
            # Back to the list, marked failed: deleting again is how the user retries.
            Database.objects.filter(pk=database.pk).update(state=Database.State.FAILED, error=DOWN)
        return
    except EngineError as exc:
        logger.error("database_drop %s: %s", database.name, exc)
        Database.objects.filter(pk=database.pk).update(
            state=Database.State.FAILED, error="Could not delete it: " + str(exc)[:200]
        )
        return
    database.delete()


@shared_task(bind=True, acks_late=True, max_retries=None)
def account_suspend(self, account_id: int) -> None:
    """The add-on was dropped: NOLOGIN, and tell the user how long the data is kept."""
    account = DatabaseAccount.objects.select_related("server", "user").filter(pk=account_id).first()
    if account is None or account.state != DatabaseAccount.State.SUSPENDED:
        return
    try:
        engine(account.server).login_disable(login=account.login)
    except DatabaseServerDown as exc:
        _retry_or_give_up(self, exc)
        logger.error("account_suspend %s: server down, gave up", account.login)
        return
    if account.warned_at is None:
        _warn_suspended(account)


def _warn_suspended(account: DatabaseAccount) -> None:
    until = account.suspended_at + timedelta(days=settings.WARREN_DATABASE_GRACE_DAYS)
    send_mail(
        subject=f"{settings.WARREN_SITE_NAME}: your PostgreSQL databases will be deleted",
        message=(
            f"Hello {account.user.username},\n\nYour plan no longer includes PostgreSQL, so "
            f"you cannot log in to it any more. Your databases are kept until {until:%d %B %Y}"
            " and then deleted: add PostgreSQL to your plan before then to keep them, with "
            "everything in them.\n"
        ),
        from_email=None,
        recipient_list=[account.user.email],
    )
    DatabaseAccount.objects.filter(pk=account.pk).update(warned_at=timezone.now())


@shared_task(bind=True, acks_late=True, max_retries=None)
def account_restore(self, account_id: int) -> None:
    """The add-on is back within the grace period: the role logs in again."""
    account = DatabaseAccount.objects.select_related("server").filter(pk=account_id).first()
    if account is None or account.state != DatabaseAccount.State.CREATING:
        return
    try:
        engine(account.server).login_enable(login=account.login)
    except DatabaseServerDown as exc:
        if not _retry_or_give_up(self, exc):
            DatabaseAccount.objects.filter(pk=account.pk).update(
                state=DatabaseAccount.State.FAILED, error=DOWN
            )
        return
    DatabaseAccount.objects.filter(pk=account.pk, state=DatabaseAccount.State.CREATING).update(
        state=DatabaseAccount.State.READY, error=""
    )


@shared_task(bind=True, acks_late=True, max_retries=None)
def account_drop(self, server_id: int, login: str) -> None:
    """Drop a login and all its databases from a server (the user or the add-on is gone)."""
    server = DatabaseServer.objects.filter(pk=server_id).first()
    if server is None:
        return
    try:
        engine(server).account_drop(login=login)
    except DatabaseServerDown as exc:
        _retry_or_give_up(self, exc)
        logger.error("account_drop %s on %s: server down, gave up", login, server)


@shared_task(acks_late=True)
def suspended_accounts_expire() -> None:
    """Drop the PostgreSQL data of users whose add-on ended more than the grace period ago."""
    cutoff = timezone.now() - timedelta(days=settings.WARREN_DATABASE_GRACE_DAYS)
    expired = DatabaseAccount.objects.filter(
        state=DatabaseAccount.State.SUSPENDED, suspended_at__lt=cutoff
    )
    for account in expired:
        # Claim it (a concurrent run skips it), then drop it on the server and forget it.
        if DatabaseAccount.objects.filter(pk=account.pk, suspended_at__lt=cutoff).delete()[0]:
            account_drop.delay(account.server_id, account.login)


def postgres_access_sync_enqueue(sender, *, user_id: int, **kwargs) -> None:
    """accounts.signals.limits_changed receiver: follow the PostgreSQL add-on in or out."""
    postgres_access_sync.delay(user_id)


@shared_task(acks_late=True)
def postgres_access_sync(user_id: int) -> None:
    """Suspend or restore the user's PostgreSQL login to match their limits now."""
    from accounts.models import User
    from databases import services  # services enqueues these tasks: import at run time

    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        services.postgres_access_sync(user=user)
