"""Attacks on the web front: a user's WSGI app against the Emperor, nginx and other users' apps.

Each runs the real execution agent, nginx and uWSGI Emperor (bubblewrap vassals); the
fixtures are the execution agent tests' own, imported here.
"""

from __future__ import annotations

import ast
import os
import time

import pytest

from execution_agent.config import load_config
from execution_agent.validation import Args
from execution_agent.webclient import web_apply, web_reload, web_remove
from execution_agent.webfront import WebLayout
from execution_agent.webharness import WebFrontProcesses, http_get
from execution_agent.webspec import parse_app
from tests.execution_agent import conftest as agent_fixtures
from tests.execution_agent.test_web import settings_for, write_wsgi

# The execution agent tests' fixtures (a real agent as root, its users), shared, not copied.
uid_base = agent_fixtures.uid_base
django_uid = agent_fixtures.django_uid
socket_gid = agent_fixtures.socket_gid
harness = agent_fixtures.harness
make_user = agent_fixtures.make_user
alice = agent_fixtures.alice
bob = agent_fixtures.bob

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (bubblewrap, nginx, uWSGI)"),
]

# What an operator exports before starting Warren (bin/run exports the agents' secret too).
OPERATOR_SECRETS = {
    "WARREN_AGENT_SECRETS": "agent-secret-4f1d",
    "SECRET_KEY": "django-secret-9a7c",
    "DATABASE_URL": "postgres://warren:db-password-3e2b@localhost/warren",
    "EMAIL_HOST_PASSWORD": "smtp-password-7d0e",
}

ENVIRON_APP = r"""
import os

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(dict(os.environ)).encode()]
"""


@pytest.fixture(scope="module")
def web(harness):
    """nginx and an Emperor started the way an operator does: with secrets in the environment."""
    env = {**harness.env(), **OPERATOR_SECRETS}
    front = WebFrontProcesses(env, harness.web_dir, harness.web_port).start()
    yield front
    front.stop()


def test_web_app_cannot_read_the_emperors_environment(harness, web, alice):
    """Without an empty environment, the app printed the agents' shared secret (forge any
    fileserver call), Django's SECRET_KEY (forge sessions), the database password and SMTP's."""
    write_wsgi(harness, alice, ENVIRON_APP)
    assert web_reload(harness.client(timeout=60), user=alice, app=settings_for(alice))["ok"]
    status, _, body = http_get(harness.web_port, f"{alice['username']}.localhost")
    assert status == 200
    seen = ast.literal_eval(body.decode())
    for name, value in OPERATOR_SECRETS.items():
        assert name not in seen
        assert value not in body.decode()
    # Only the allow-list: the sandbox's own variables and uWSGI's pipe to its Emperor.
    assert seen["HOME"] == f"/home/{alice['username']}"
    assert seen["USER"] == alice["username"]
    assert set(seen) <= {
        "HOME",
        "USER",
        "LOGNAME",
        "PATH",
        "LANG",
        "PWD",  # uWSGI's chdir sets it
        "UWSGI_EMPEROR_FD",
        "UWSGI_EMPEROR_FD_CONFIG",
        "UWSGI_RELOADS",
        "UWSGI_ORIGINAL_PROC_NAME",
    }, sorted(seen)


def test_reload_disable_and_delete_of_a_prefix_named_app_spare_another_users_app(
    harness, web, alice, bob
):
    """With prefix globs, alice's `www.my` took bob's `www.my-university.org` down with it:
    its vassal, launch spec and conf matched `www_my-u*`, so her every Reload, disable or
    delete removed his app."""
    client = harness.client(timeout=60)
    victim = settings_for(bob, domain="www.my-university.org")
    assert web_reload(client, user=bob, app=victim)["ok"]
    layout = WebLayout(load_config(harness.env()))
    victim_spec = parse_app(
        Args({"user": bob, "app": victim}, frozenset({"user", "app"}), harness.uid_base),
        ["3.11"],
    )
    victim_files = [
        layout.vassal(victim_spec),
        layout.launch_spec(victim_spec),
        layout.vassal_conf(victim_spec),
    ]

    def victim_untouched() -> None:
        assert all(path.exists() for path in victim_files)
        time.sleep(1)  # the Emperor's next scan would have stopped a removed vassal
        status, _, body = http_get(harness.web_port, "www.my-university.org")
        assert (status, b"Hello, World!" in body) == (200, True)

    attacker = settings_for(alice, domain="www.my")
    assert web_reload(client, user=alice, app=attacker)["ok"]
    # A changed vassal (two processes) is rewritten, which cleans up earlier owners' files.
    assert web_reload(client, user=alice, app={**attacker, "processes": 2})["ok"]
    victim_untouched()
    assert web_apply(client, user=alice, app={**attacker, "enabled": False})["vassal_changed"]
    victim_untouched()
    assert web_reload(client, user=alice, app=attacker)["ok"]
    web_remove(client, user=alice, domain="www.my")
    victim_untouched()
    assert http_get(harness.web_port, "www.my")[0] == 404
