"""Provisioning users' databases: 1,000 users with one database each, on MariaDB and PostgreSQL.

    python -m bench.databases        # BENCH_USERS=1000; the machine's MariaDB and PostgreSQL

Warren's path per user is what the provisioning tasks do on the server: ``account_ensure``
(CREATE USER / ALTER USER / GRANT on MariaDB; CREATE ROLE ... CONNECTION LIMIT on PostgreSQL)
then ``database_create`` (CREATE DATABASE, and REVOKE CONNECT FROM PUBLIC on PostgreSQL), each
call through ``databases.engines`` on a connection of its own that it closes (Warren holds no
idle connection between tasks). Celery and Warren's own rows are not included. The anchor is a
bare script sending the same SQL statements for the same kind of user over one connection per
engine kept open for the whole run. The two series are interleaved user by user, in one run.
Password verifiers (the hashing is done in the web request) are computed before timing and
reported apart. Afterwards: the connections each engine holds from this process, and on
PostgreSQL those named warren-databases. Everything the run makes is dropped at the end.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

USERS = int(os.environ.get("BENCH_USERS", "1000"))


def setup_django() -> None:
    os.environ.setdefault("WARREN_VAR_DIR", tempfile.mkdtemp(prefix="bench-databases-var-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def open_connections(port: int) -> int:
    """TCP connections this process holds to ``port`` (ss, by our pid)."""
    shown = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True)
    mine = f"pid={os.getpid()},"
    return sum(
        1 for line in shown.stdout.splitlines() if mine in line and f":{port} " in line + " "
    )


class Anchor:
    """The same statements as databases.engines, on one connection per engine, kept open."""

    def __init__(self) -> None:
        from tests.databases.engines import mysql_admin, postgres_admin

        self.mysql = mysql_admin().cursor()
        self.postgres = postgres_admin().cursor()

    def mysql_user(self, login: str, verifier: str, database: str) -> None:
        from databases.engines import MySQL

        cursor = self.mysql
        MySQL._foreign_user(cursor, login)  # the same check Warren makes first
        for verb in ("CREATE USER IF NOT EXISTS", "ALTER USER"):
            cursor.execute(
                f"{verb} %s@'%%' IDENTIFIED BY PASSWORD %s WITH MAX_USER_CONNECTIONS %s",
                (login, verifier, 10),
            )
        for expression, args in (
            (
                "CONCAT('GRANT ALL PRIVILEGES ON ', sys.quote_identifier(%s), '.* TO ', "
                "QUOTE(%s), '@''%%''')",
                (login.replace("_", "\\_") + "$%", login),
            ),
            (
                "CONCAT('CREATE DATABASE IF NOT EXISTS ', sys.quote_identifier(%s), "
                "' CHARACTER SET utf8mb4')",
                (database,),
            ),
        ):
            cursor.execute(f"SET @warren_sql = {expression}", args)
            cursor.execute("PREPARE warren_statement FROM @warren_sql")
            cursor.execute("EXECUTE warren_statement")
            cursor.execute("DEALLOCATE PREPARE warren_statement")

    def postgres_user(self, login: str, verifier: str, database: str) -> None:
        from psycopg import sql

        cursor = self.postgres
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s",
            (login,),
        )
        with cursor.connection.transaction():
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT {} PASSWORD {}").format(
                    sql.Identifier(login), sql.Literal(10), sql.Literal(verifier)
                )
            )
            cursor.execute(
                sql.SQL("COMMENT ON ROLE {} IS {}").format(
                    sql.Identifier(login), sql.Literal("warren")
                )
            )
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        cursor.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(login)
            )
        )
        cursor.execute(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(database)
            )
        )

    def close(self) -> None:
        self.mysql.connection.close()
        self.postgres.connection.close()


def main() -> None:
    setup_django()
    from databases.engines import engine, mysql_verifier, postgres_verifier
    from databases.models import DatabaseServer
    from tests.databases.engines import MYSQL, POSTGRES, new_prefix, postgres_admin, sweep

    prefix = new_prefix()
    servers = {
        "mysql": DatabaseServer(
            kind="mysql",
            admin_user=MYSQL["admin"],
            host=MYSQL["host"],
            port=MYSQL["port"],
            name_prefix=prefix + "w",
        ),
        "postgres": DatabaseServer(
            kind="postgres",
            admin_user=POSTGRES["admin"],
            host=POSTGRES["host"],
            port=POSTGRES["port"],
            name_prefix=prefix + "w",
        ),
    }
    started = time.perf_counter()
    verifiers = {"mysql": [], "postgres": []}
    for kind, make in (("mysql", mysql_verifier), ("postgres", postgres_verifier)):
        t0 = time.perf_counter()
        verifiers[kind] = [make(f"password-{n}") for n in range(USERS)]
        verifiers[f"{kind}_ms"] = (time.perf_counter() - t0) * 1000 / USERS
    times: dict[str, list[float]] = {
        f"{who}_{kind}": [] for who in ("warren", "anchor") for kind in servers
    }
    anchor = Anchor()
    try:
        for number in range(USERS):
            for kind, server in servers.items():
                login = f"{server.name_prefix}u{number}"
                verifier = verifiers[kind][number]
                t0 = time.perf_counter()
                adapter = engine(server)
                adapter.account_ensure(login=login, verifier=verifier, connections=10)
                adapter.database_create(name=f"{login}$db", owner=login)
                times[f"warren_{kind}"].append((time.perf_counter() - t0) * 1000)

                login = f"{prefix}a{number}"
                t0 = time.perf_counter()
                getattr(anchor, f"{kind}_user")(login, verifier, f"{login}$db")
                times[f"anchor_{kind}"].append((time.perf_counter() - t0) * 1000)
        held_with_anchor = {k: open_connections(s.port) for k, s in servers.items()}
        anchor.close()
        held = {k: open_connections(s.port) for k, s in servers.items()}
        with postgres_admin() as connection:
            named = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'warren-databases'"
            ).fetchone()[0]
    finally:
        sweep(prefix)
    print(
        f"{USERS} users, one database each, per engine; interleaved with the anchor; "
        f"{time.perf_counter() - started:.0f} s in all (clean-up included)"
    )
    print(
        f"password verifiers (in the web request): MariaDB {verifiers['mysql_ms']:.3f} ms, "
        f"PostgreSQL SCRAM {verifiers['postgres_ms']:.2f} ms per user"
    )
    metrics = {}
    for kind, label in (("mysql", "MariaDB"), ("postgres", "PostgreSQL")):
        warren, bare = times[f"warren_{kind}"], times[f"anchor_{kind}"]
        row = {
            "warren_p50_ms": statistics.median(warren),
            "warren_p95_ms": percentile(warren, 0.95),
            "anchor_p50_ms": statistics.median(bare),
            "anchor_p95_ms": percentile(bare, 0.95),
        }
        metrics[kind] = row
        print(
            f"{label}: Warren p50 {row['warren_p50_ms']:.1f} ms, p95 "
            f"{row['warren_p95_ms']:.1f} ms per user | bare script on one connection p50 "
            f"{row['anchor_p50_ms']:.1f} ms, p95 {row['anchor_p95_ms']:.1f} ms | ratio p50 "
            f"{row['warren_p50_ms'] / row['anchor_p50_ms']:.2f}x"
        )
    print(
        f"connections held afterwards by Warren: MariaDB {held['mysql']}, PostgreSQL "
        f"{held['postgres']} (PostgreSQL sessions named warren-databases: {named}); "
        f"the anchor held {held_with_anchor['mysql']} and {held_with_anchor['postgres']} "
        "until it closed"
    )
    metrics["held"] = {**held, "postgres_named": named}
    print(json.dumps({"bench": "databases", "metrics": metrics}))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
