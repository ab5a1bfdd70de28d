"""Attacks on users' databases from inside a sandbox (the real execution agent, the machine's
real MariaDB and PostgreSQL): another user's databases, Warren's own PostgreSQL and Redis.

On this machine the users' PostgreSQL is Warren's own (5432), so the rule that applies is the
block: a sandbox reaches the users' MariaDB (3306, allowed by default) and not 5432. An
operator gives users PostgreSQL on a separate cluster or machine (README, "Databases").
"""

import contextlib
import json
import socket

import pytest
from django.test import Client
from django.urls import reverse

from databases.engines import engine
from databases.models import Database, DatabaseAccount
from servers.agents import user_ref
from tests.databases.conftest import with_postgres

pytestmark = pytest.mark.root

CONNECT = """
import json, socket, sys
results = {}
for address, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((address, port), timeout=5).close()
        results[f"{address}:{port}"] = "connected"
    except OSError as exc:
        results[f"{address}:{port}"] = type(exc).__name__
print(json.dumps(results))
"""


def give_mysql(user, password, *names):
    client = Client()
    client.force_login(user)
    client.post(reverse("databases:password"), {"kind": "mysql", "password": password})
    for name in names:
        client.post(reverse("databases:create"), {"kind": "mysql", "name": name})
    return DatabaseAccount.objects.get(user=user, server__kind="mysql")


def listening_on(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def in_sandbox(exec_agent, user, argv):
    return exec_agent.client().run(user=user_ref(user), argv=argv, timeout=30)


def test_from_a_console_a_user_sees_and_reaches_only_their_own_databases(
    owner, stranger, run_on_commit, exec_agent
):
    with run_on_commit():
        alice = give_mysql(owner, "alice-pass-1", "blog")
        mallory = give_mysql(stranger, "mallory-pass", "notes")
    assert Database.objects.filter(state="ready").count() == 2
    prefix = alice.server.name_prefix
    # No password typed: mysql inside the sandbox reads the ~/.my.cnf Warren wrote.
    shown = in_sandbox(exec_agent, stranger, ["mysql", "-N", "-e", "SHOW DATABASES"])
    assert shown["returncode"] == 0, shown["stderr"]
    assert shown["stdout"].split() == ["information_schema", f"{prefix}mallory$notes"]
    for statement in (
        f"USE `{prefix}alice$blog`",
        f"DROP DATABASE `{prefix}alice$blog`",
        f"CREATE DATABASE `{prefix}alice$evil`",
        f"ALTER USER `{alice.login}`@`%` IDENTIFIED BY 'taken-over'",
        "SELECT user, password FROM mysql.user",
    ):
        attempt = in_sandbox(exec_agent, stranger, ["mysql", "-e", statement])
        assert attempt["returncode"] != 0, statement
        assert "denied" in attempt["stderr"], attempt["stderr"]
    # alice's login with a guessed password from mallory's sandbox: refused.
    guess = in_sandbox(
        exec_agent,
        stranger,
        [
            "mysql",
            "--no-defaults",
            "-h127.0.0.1",
            f"-u{alice.login}",
            "-pmallory-pass",
            "-e",
            "SELECT 1",
        ],
    )
    assert guess["returncode"] != 0 and "Access denied" in guess["stderr"]
    assert mallory.login != alice.login
    # alice's ~/.my.cnf is hers alone.
    peek = in_sandbox(exec_agent, stranger, ["cat", f"/home/{owner.username}/.my.cnf"])
    assert peek["returncode"] != 0


def test_a_sandbox_reaches_the_users_mariadb_but_not_warrens_postgresql_or_redis(owner, exec_agent):
    # MariaDB (the users'), PostgreSQL (Warren's own, and here the users' too), Redis.
    listening = [("127.0.0.1", port) for port in (3306, 5432, 6379) if listening_on(port)]
    assert ("127.0.0.1", 3306) in listening and ("127.0.0.1", 5432) in listening
    outcome = in_sandbox(exec_agent, owner, ["python3", "-c", CONNECT, json.dumps(listening)])
    assert json.loads(outcome["stdout"]) == {
        "127.0.0.1:3306": "connected",
        **{f"{a}:{p}": "ConnectionRefusedError" for a, p in listening if p != 3306},
    }
    # What an operator does to give users PostgreSQL here: a separate cluster on 5433, which
    # the default allow list opens (a stand-in listener when no cluster runs there).
    with contextlib.ExitStack() as stack:
        if not listening_on(5433):
            stack.enter_context(socket.create_server(("127.0.0.1", 5433)))
        outcome = in_sandbox(exec_agent, owner, ["python3", "-c", CONNECT, '[["127.0.0.1", 5433]]'])
    assert json.loads(outcome["stdout"]) == {"127.0.0.1:5433": "connected"}
    psql = in_sandbox(
        exec_agent, owner, ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "SELECT 1"]
    )
    assert psql["returncode"] != 0 and "refused" in psql["stderr"]


def test_deleting_the_account_drops_its_logins_and_databases_everywhere(
    owner, run_on_commit, db_servers
):
    with run_on_commit():
        give_mysql(owner, "alice-pass-1", "blog")
        with_postgres(owner)
    client = Client()
    client.force_login(owner)
    with run_on_commit():
        client.post(reverse("databases:password"), {"kind": "postgres", "password": "pg-pass-12"})
        client.post(reverse("databases:create"), {"kind": "postgres", "name": "shop"})
    logins = {a.server.kind: a.login for a in DatabaseAccount.objects.select_related("server")}
    assert all(engine(db_servers[k]).databases_of(login=v) for k, v in logins.items())
    with run_on_commit():
        # A fresh instance: the fixture's owner keeps its pk for the home's clean-up.
        type(owner).objects.get(pk=owner.pk).delete()
    for kind, login in logins.items():
        assert not engine(db_servers[kind]).account_exists(login=login)
        assert engine(db_servers[kind]).databases_of(login=login) == []
