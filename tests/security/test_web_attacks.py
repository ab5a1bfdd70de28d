"""Attacks on the web front: a user's WSGI app against the Emperor, nginx and other users' apps.

Each runs the real execution agent, nginx and uWSGI Emperor (bubblewrap vassals); the
fixtures are the execution agent tests' own, imported here.
"""

from __future__ import annotations

import ast
import os

import pytest

from execution_agent.webclient import web_reload
from execution_agent.webharness import WebFrontProcesses, http_get
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
