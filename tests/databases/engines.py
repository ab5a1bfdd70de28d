"""The machine's real MariaDB and PostgreSQL for tests and benchmarks: a unique name prefix
per run, connections as a user, and a sweep that drops everything carrying the prefix."""

from __future__ import annotations

import uuid

import psycopg
import pymysql
from psycopg import sql

MYSQL = {"host": "127.0.0.1", "port": 3306, "admin": "root"}
POSTGRES = {"host": "127.0.0.1", "port": 5432, "admin": "postgres"}


def new_prefix() -> str:
    """A prefix no parallel run shares; the '_' in it is a LIKE/GRANT wildcard on purpose."""
    return f"w{uuid.uuid4().hex[:6]}_"


def mysql_admin():
    return pymysql.connect(
        host=MYSQL["host"], port=MYSQL["port"], user=MYSQL["admin"], password="", autocommit=True
    )


def postgres_admin(dbname: str = "postgres"):
    return psycopg.connect(
        host=POSTGRES["host"],
        port=POSTGRES["port"],
        user=POSTGRES["admin"],
        dbname=dbname,
        autocommit=True,
    )


def mysql_as(login: str, password: str, database: str | None = None):
    return pymysql.connect(
        host=MYSQL["host"],
        port=MYSQL["port"],
        user=login,
        password=password,
        database=database,
        autocommit=True,
        connect_timeout=5,
    )


def postgres_as(login: str, password: str, dbname: str):
    return psycopg.connect(
        host=POSTGRES["host"],
        port=POSTGRES["port"],
        user=login,
        password=password,
        dbname=dbname,
        autocommit=True,
        connect_timeout=5,
    )


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def sweep(prefix: str) -> None:
    """Drop every MariaDB user and database, PostgreSQL database and role named ``prefix*``."""
    connection = mysql_admin()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
            (_like(prefix),),
        )
        for (name,) in cursor.fetchall():
            cursor.execute("SET @s = CONCAT('DROP DATABASE ', sys.quote_identifier(%s))", (name,))
            cursor.execute("PREPARE s FROM @s")
            cursor.execute("EXECUTE s")
        cursor.execute("SELECT user, host FROM mysql.user WHERE user LIKE %s", (_like(prefix),))
        for user, host in cursor.fetchall():
            cursor.execute("DROP USER %s@%s", (user, host))
    connection.close()
    with postgres_admin() as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (_like(prefix),))
        for (name,) in cursor.fetchall():
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (_like(prefix),))
        for (name,) in cursor.fetchall():
            cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
