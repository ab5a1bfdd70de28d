"""The adapter against the machine's real MariaDB and PostgreSQL: what a user's login can and
cannot do, hostile names, rotation, NOLOGIN, drops, and a server that is down."""

import psycopg
import pymysql
import pytest

from databases.engines import (
    DatabaseServerDown,
    engine,
    mysql_verifier,
    postgres_verifier,
)
from databases.models import DatabaseServer
from tests.databases.engines import mysql_admin, mysql_as, postgres_admin, postgres_as

pytestmark = pytest.mark.django_db


def mysql_user(server, username, password):
    login = server.name_prefix + username
    engine(server).account_ensure(login=login, verifier=mysql_verifier(password), connections=3)
    return login


def postgres_user(server, username, password):
    login = server.name_prefix + username
    engine(server).account_ensure(login=login, verifier=postgres_verifier(password), connections=3)
    return login


def test_a_mysql_user_uses_their_own_databases_and_sees_no_one_elses(mysql_server):
    alice = mysql_user(mysql_server, "alice", "alice-pass-1")
    bob = mysql_user(mysql_server, "bob", "bob-pass-1")
    engine(mysql_server).database_create(name=f"{alice}$shop", owner=alice)
    engine(mysql_server).database_create(name=f"{bob}$secret", owner=bob)
    with mysql_as(alice, "alice-pass-1", f"{alice}$shop").cursor() as cursor:
        cursor.execute("CREATE TABLE t (x int)")
        cursor.execute("INSERT INTO t VALUES (1)")
        # alice may make more databases of her own straight from SQL, never anyone else's.
        cursor.execute(f"CREATE DATABASE `{alice}$more`")
        cursor.execute("SHOW DATABASES")
        shown = {row[0] for row in cursor.fetchall()}
        assert shown == {"information_schema", f"{alice}$shop", f"{alice}$more"}
        for statement in (
            f"SELECT * FROM `{bob}$secret`.t",  # noqa: S608 - the attack under test
            f"DROP DATABASE `{bob}$secret`",
            f"CREATE DATABASE `{bob}$mine`",
            "CREATE DATABASE `other`",
            f"ALTER USER '{bob}'@'%' IDENTIFIED BY 'stolen-pass'",
        ):
            with pytest.raises(pymysql.err.MySQLError):
                cursor.execute(statement)
    with pytest.raises(pymysql.err.OperationalError):
        mysql_as(alice, "alice-pass-1", f"{bob}$secret")


def test_the_grant_pattern_takes_an_underscore_in_a_login_literally(mysql_server):
    # The prefix ends in "_": unescaped, alice's grant would cover "<prefix>Xalice$..." too.
    alice = mysql_user(mysql_server, "alice", "alice-pass-1")
    lookalike = alice.replace("_", "X")
    with mysql_as(alice, "alice-pass-1").cursor() as cursor, pytest.raises(pymysql.err.MySQLError):
        cursor.execute(f"CREATE DATABASE `{lookalike}$x`")


def exists(server, name) -> bool:
    if server.kind == "mysql":
        with mysql_admin().cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,)
            )
            return cursor.fetchone() is not None
    with postgres_admin() as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return found.fetchone() is not None


def test_hostile_names_are_quoted_by_the_engines(db_servers):
    hostile = "x`'; DROP DATABASE mysql; -- \"$%_ y"
    for server in db_servers.values():
        owner = server.name_prefix + "owner"
        verifier = mysql_verifier if server.kind == "mysql" else postgres_verifier
        engine(server).account_ensure(login=owner, verifier=verifier("owner-pass"), connections=2)
        name = server.name_prefix + hostile
        engine(server).database_create(name=name, owner=owner)
        assert exists(server, name)
        engine(server).database_drop(name=name)
        assert not exists(server, name)
    with mysql_admin().cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE 'mysql'")
        assert cursor.fetchall() == (("mysql",),)


def test_a_new_mysql_password_replaces_the_old_one(mysql_server):
    alice = mysql_user(mysql_server, "alice", "first-pass")
    mysql_user(mysql_server, "alice", "second-pass")
    mysql_as(alice, "second-pass").close()
    with pytest.raises(pymysql.err.OperationalError):
        mysql_as(alice, "first-pass")


def test_mysql_users_get_a_connection_limit(mysql_server):
    alice = mysql_user(mysql_server, "alice", "alice-pass-1")
    connections = [mysql_as(alice, "alice-pass-1") for _ in range(3)]
    with pytest.raises(pymysql.err.OperationalError, match="max_user_connections"):
        mysql_as(alice, "alice-pass-1")
    for connection in connections:
        connection.close()


def test_a_postgres_role_owns_its_database_and_cannot_touch_anothers(postgres_server):
    alice = postgres_user(postgres_server, "alice", "alice-pass-1")
    bob = postgres_user(postgres_server, "bob", "bob-pass-1")
    engine(postgres_server).database_create(name=f"{alice}$shop", owner=alice)
    engine(postgres_server).database_create(name=f"{bob}$secret", owner=bob)
    with postgres_as(alice, "alice-pass-1", f"{alice}$shop") as connection:
        connection.execute("CREATE TABLE t (x int)")
        connection.execute("INSERT INTO t VALUES (1)")
        for statement in (
            f'DROP DATABASE "{bob}$secret"',
            f"ALTER ROLE \"{bob}\" PASSWORD 'stolen-pass'",
            f'CREATE DATABASE "{alice}$other"',  # no CREATEDB: databases come through Warren
            "CREATE ROLE sneaky LOGIN",
        ):
            with pytest.raises(psycopg.Error):
                connection.execute(statement)
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        postgres_as(alice, "alice-pass-1", f"{bob}$secret")


def test_nologin_keeps_the_data_and_login_restores_it(postgres_server):
    alice = postgres_user(postgres_server, "alice", "alice-pass-1")
    adapter = engine(postgres_server)
    adapter.database_create(name=f"{alice}$shop", owner=alice)
    with postgres_as(alice, "alice-pass-1", f"{alice}$shop") as connection:
        connection.execute("CREATE TABLE t AS SELECT 42 AS x")
    adapter.login_disable(login=alice)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        postgres_as(alice, "alice-pass-1", f"{alice}$shop")
    adapter.login_enable(login=alice)
    with postgres_as(alice, "alice-pass-1", f"{alice}$shop") as connection:
        assert connection.execute("SELECT x FROM t").fetchone() == (42,)


def test_dropping_an_account_drops_its_databases_and_login(db_servers):
    for server in db_servers.values():
        login = (mysql_user if server.kind == "mysql" else postgres_user)(
            server, "alice", "alice-pass-1"
        )
        adapter = engine(server)
        adapter.database_create(name=f"{login}$a", owner=login)
        adapter.database_create(name=f"{login}$b", owner=login)
        adapter.account_drop(login=login)
        assert adapter.databases_of(login=login) == []
        assert not adapter.account_exists(login=login)
    with postgres_admin() as connection:
        like = db_servers["postgres"].name_prefix.replace("_", "\\_") + "%"
        found = connection.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))
        assert found.fetchall() == []


@pytest.mark.parametrize("kind", ["mysql", "postgres"])
def test_a_server_that_is_down_is_reported_as_down(db, kind):
    from execution_agent.testing.harness import free_port

    server = DatabaseServer(kind=kind, host="127.0.0.1", port=free_port(), admin_user="root")
    with pytest.raises(DatabaseServerDown):
        engine(server).database_create(name="nothing", owner="nobody")


def test_a_login_name_taken_by_an_account_warren_did_not_make_is_never_altered(db_servers):
    from databases.engines import EngineError

    mysql, postgres = db_servers["mysql"], db_servers["postgres"]
    taken = mysql.name_prefix + "ops"
    with mysql_admin().cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY 'operator-pass'", (taken,))
        cursor.execute(f"GRANT SELECT ON mysql.* TO '{taken}'@'%'")
        cursor.execute("CREATE USER %s@'localhost' IDENTIFIED BY 'operator-pass'", (taken + "2",))
    with postgres_admin() as connection:
        connection.execute(f"CREATE ROLE \"{taken}\" LOGIN PASSWORD 'operator-pass'")
    for server, login in ((mysql, taken), (mysql, taken + "2"), (postgres, taken)):
        with pytest.raises(EngineError, match="taken on this server"):
            engine(server).account_ensure(
                login=login, verifier=mysql_verifier("x" * 9), connections=1
            )
    mysql_as(taken, "operator-pass").close()
    postgres_as(taken, "operator-pass", "postgres").close()
