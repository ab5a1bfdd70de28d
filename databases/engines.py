"""Warren's adapter to users' database servers: one engine per kind, one connection per call.

Every call opens its own connection as the server's admin and closes it before returning, so
Warren holds no idle connection to a users' server between tasks. Identifiers and passwords
are quoted by the engine (MariaDB's ``sys.quote_identifier`` and ``QUOTE`` in a prepared
statement; pymysql's literal escaping for account names) or by the driver (psycopg's ``sql``
module), never by formatting them into SQL here. Passwords arrive as the engine's own stored
form (``verifiers``), so the plain text is never sent, queued or stored by Warren.

Names passed in are already the engine's names (the server's prefix applied).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from contextlib import contextmanager
from functools import cache

import psycopg
import pymysql
from django.conf import settings
from psycopg import sql

from databases.models import DatabaseServer


class DatabaseServerDown(Exception):
    """The server did not answer (or refused Warren's admin login)."""


class EngineError(Exception):
    """The server answered with an error."""


# --- credentials --------------------------------------------------------------------------


@cache
def _admin_secrets(path: str) -> dict:
    with open(path) as handle:
        secrets = json.load(handle)
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        raise ValueError(f"{path} must hold a JSON object of names to passwords")
    return secrets


def admin_password(server: DatabaseServer) -> str:
    """The admin password of ``server`` from the secrets file ('' when it names none)."""
    if not server.admin_secret_name:
        return ""
    path = settings.WARREN_DATABASE_ADMINS_FILE
    secrets = _admin_secrets(str(path)) if path else {}
    if server.admin_secret_name not in secrets:
        raise DatabaseServerDown(f"no admin password named {server.admin_secret_name!r}")
    return secrets[server.admin_secret_name]


# --- password verifiers -------------------------------------------------------------------


def mysql_verifier(password: str) -> str:
    """MariaDB's mysql_native_password hash: '*' and SHA1(SHA1(password)) in hex."""
    # The engine's own format, not a choice of ours: MariaDB checks logins against it.
    inner = hashlib.sha1(password.encode()).digest()  # noqa: S324
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


def postgres_verifier(password: str, *, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier (RFC 5803), as ``ALTER ROLE ... PASSWORD`` takes it."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def verifier_for(server: DatabaseServer, password: str) -> str:
    if server.kind == DatabaseServer.Kind.MYSQL:
        return mysql_verifier(password)
    return postgres_verifier(password)


# --- MariaDB ------------------------------------------------------------------------------


def like_escaped(text: str) -> str:
    """``text`` with LIKE's and GRANT's wildcards (``_``, ``%``) and the escape taken literally."""
    return text.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


class _MySQLConnection(pymysql.connections.Connection):
    """PyMySQL's connection with its TLS-if-offered context built once per process.

    PyMySQL builds a new SSLContext (loading the system's CA store) on every connect, which
    costs about 20 ms, more than the rest of a provisioning task (bench/databases.py). The
    context of that mode verifies nothing, so sharing one changes nothing but the time.
    """

    def _create_ssl_ctx(self, sslp):
        if sslp == {}:
            return _preferred_tls_context(self)
        return super()._create_ssl_ctx(sslp)


_shared_context = None


def _preferred_tls_context(connection):
    global _shared_context
    if _shared_context is None:
        _shared_context = pymysql.connections.Connection._create_ssl_ctx(connection, {})
    return _shared_context


class MySQL:
    def __init__(self, server: DatabaseServer) -> None:
        self.server = server

    @contextmanager
    def _cursor(self):
        try:
            connection = _MySQLConnection(
                host=self.server.host,
                port=self.server.port,
                user=self.server.admin_user,
                password=admin_password(self.server),
                connect_timeout=settings.WARREN_DATABASE_CONNECT_TIMEOUT_SECONDS,
                autocommit=True,
                charset="utf8mb4",
            )
        except pymysql.err.OperationalError as exc:
            raise DatabaseServerDown(str(exc.args[-1])) from None
        try:
            with connection.cursor() as cursor:
                yield cursor
        except pymysql.err.MySQLError as exc:
            raise EngineError(str(exc.args[-1])) from None
        finally:
            connection.close()

    @staticmethod
    def _prepared(cursor, expression: str, args: tuple) -> None:
        """Run the statement the SQL ``expression`` builds (the engine quotes names in it)."""
        cursor.execute(f"SET @warren_sql = {expression}", args)
        cursor.execute("PREPARE warren_statement FROM @warren_sql")
        cursor.execute("EXECUTE warren_statement")
        cursor.execute("DEALLOCATE PREPARE warren_statement")

    def account_ensure(self, *, login: str, verifier: str, connections: int) -> None:
        """Create the user (or set its password), allowed everything on ``<login>$*``.

        A user of that name that Warren did not make (another host, or any privilege beyond
        its own databases) is refused: setting its password would hand it to our user.
        """
        with self._cursor() as cursor:
            if self._foreign_user(cursor, login):
                raise EngineError(f"the name {login} is taken on this server by another account")
            for verb in ("CREATE USER IF NOT EXISTS", "ALTER USER"):
                cursor.execute(
                    f"{verb} %s@'%%' IDENTIFIED BY PASSWORD %s WITH MAX_USER_CONNECTIONS %s",
                    (login, verifier, connections),
                )
            # In GRANT a database name is a pattern: escape the login, then allow "$anything".
            self._prepared(
                cursor,
                "CONCAT('GRANT ALL PRIVILEGES ON ', sys.quote_identifier(%s), '.* TO ', "
                "QUOTE(%s), '@''%%''')",
                (like_escaped(login) + "$%", login),
            )

    @staticmethod
    def _foreign_user(cursor, login: str) -> bool:
        # information_schema names a grantee 'user'@'host' (quotes unescaped): CHAR(39) is '.
        cursor.execute(
            "SELECT (SELECT COUNT(*) FROM mysql.user WHERE user = %(login)s AND host <> '%%')"
            " + (SELECT COUNT(*) FROM information_schema.user_privileges WHERE grantee = "
            "    CONCAT(CHAR(39), %(login)s, CHAR(39), '@', CHAR(39), '%%', CHAR(39))"
            "    AND privilege_type <> 'USAGE')"
            " + (SELECT COUNT(*) FROM information_schema.schema_privileges WHERE grantee = "
            "    CONCAT(CHAR(39), %(login)s, CHAR(39), '@', CHAR(39), '%%', CHAR(39))"
            "    AND table_schema <> %(own)s)"
            " + (SELECT COUNT(*) FROM information_schema.table_privileges WHERE grantee = "
            "    CONCAT(CHAR(39), %(login)s, CHAR(39), '@', CHAR(39), '%%', CHAR(39)))",
            {"login": login, "own": like_escaped(login) + "$%"},
        )
        return cursor.fetchone()[0] > 0

    def account_exists(self, *, login: str) -> bool:
        with self._cursor() as cursor:
            cursor.execute("SELECT 1 FROM mysql.user WHERE user = %s", (login,))
            return cursor.fetchone() is not None

    def database_create(self, *, name: str, owner: str) -> None:
        with self._cursor() as cursor:
            self._prepared(
                cursor,
                "CONCAT('CREATE DATABASE IF NOT EXISTS ', sys.quote_identifier(%s), "
                "' CHARACTER SET utf8mb4')",
                (name,),
            )

    def database_drop(self, *, name: str) -> None:
        with self._cursor() as cursor:
            self._prepared(
                cursor, "CONCAT('DROP DATABASE IF EXISTS ', sys.quote_identifier(%s))", (name,)
            )

    def databases_of(self, *, login: str) -> list[str]:
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                (like_escaped(login + "$") + "%",),
            )
            return [row[0] for row in cursor.fetchall()]

    def account_drop(self, *, login: str) -> None:
        """Drop every ``<login>$*`` database and the user."""
        for name in self.databases_of(login=login):
            self.database_drop(name=name)
        with self._cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (login,))

    def sizes(self, *, names: list[str]) -> dict[str, int]:
        if not names:
            return {}
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT table_schema, COALESCE(SUM(data_length + index_length), 0)"
                " FROM information_schema.tables WHERE table_schema IN %s GROUP BY table_schema",
                (names,),
            )
            found = {name: int(size) for name, size in cursor.fetchall()}
        return {name: found.get(name, 0) for name in names}


# --- PostgreSQL ---------------------------------------------------------------------------


ROLE_MARK = "warren"


class Postgres:
    def __init__(self, server: DatabaseServer) -> None:
        self.server = server

    @contextmanager
    def _cursor(self):
        try:
            connection = psycopg.connect(
                host=self.server.host,
                port=self.server.port,
                user=self.server.admin_user,
                password=admin_password(self.server) or None,
                dbname="postgres",
                connect_timeout=settings.WARREN_DATABASE_CONNECT_TIMEOUT_SECONDS,
                autocommit=True,
                application_name="warren-databases",
            )
        except psycopg.OperationalError as exc:
            raise DatabaseServerDown(str(exc).strip().splitlines()[0]) from None
        try:
            with connection.cursor() as cursor:
                yield cursor
        except psycopg.Error as exc:
            raise EngineError(str(exc).strip().splitlines()[0]) from None
        finally:
            connection.close()

    @staticmethod
    def _role_exists(cursor, login: str) -> bool:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,))
        return cursor.fetchone() is not None

    def account_ensure(self, *, login: str, verifier: str, connections: int) -> None:
        """Create the role (or set its password) with LOGIN and a connection limit.

        Warren's roles carry the comment ``warren`` (set with the CREATE, in one transaction);
        an existing role without it is someone else's and is refused, never altered.
        """
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s",
                (login,),
            )
            found = cursor.fetchone()
            if found is not None and found[0] != ROLE_MARK:
                raise EngineError(f"the name {login} is taken on this server by another role")
            verb = "ALTER" if found else "CREATE"
            statement = sql.SQL("{verb} ROLE {role} LOGIN CONNECTION LIMIT {limit}").format(
                verb=sql.SQL(verb), role=sql.Identifier(login), limit=sql.Literal(connections)
            )
            if verifier:
                statement += sql.SQL(" PASSWORD {}").format(sql.Literal(verifier))
            with cursor.connection.transaction():
                cursor.execute(statement)
                cursor.execute(
                    sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        sql.Identifier(login), sql.Literal(ROLE_MARK)
                    )
                )

    def account_exists(self, *, login: str) -> bool:
        with self._cursor() as cursor:
            return self._role_exists(cursor, login)

    def login_disable(self, *, login: str) -> None:
        """NOLOGIN, and end the role's sessions (the data stays)."""
        with self._cursor() as cursor:
            if not self._role_exists(cursor, login):
                return
            cursor.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(login)))
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (login,),
            )

    def login_enable(self, *, login: str) -> None:
        with self._cursor() as cursor:
            cursor.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(login)))

    def can_login(self, *, login: str) -> bool:
        with self._cursor() as cursor:
            cursor.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (login,))
            row = cursor.fetchone()
            return bool(row and row[0])

    def database_create(self, *, name: str, owner: str) -> None:
        """CREATE DATABASE ... OWNER, closed to everyone but its owner (and superusers)."""
        with self._cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                )
            cursor.execute(
                sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(name)
                )
            )

    def database_drop(self, *, name: str) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def databases_of(self, *, login: str) -> list[str]:
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
                " WHERE r.rolname = %s",
                (login,),
            )
            return [row[0] for row in cursor.fetchall()]

    def account_drop(self, *, login: str) -> None:
        """Drop every database the role owns, then the role."""
        for name in self.databases_of(login=login):
            self.database_drop(name=name)
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (login,),
            )
            cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))

    def sizes(self, *, names: list[str]) -> dict[str, int]:
        if not names:
            return {}
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT datname, pg_database_size(datname) FROM pg_database"
                " WHERE datname = ANY(%s)",
                (names,),
            )
            found = dict(cursor.fetchall())
        return {name: int(found.get(name, 0)) for name in names}


def engine(server: DatabaseServer) -> MySQL | Postgres:
    """The adapter for ``server``'s engine."""
    return MySQL(server) if server.kind == DatabaseServer.Kind.MYSQL else Postgres(server)
