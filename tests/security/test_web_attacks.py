"""Attacks on the web front: a user's WSGI app against the Emperor, nginx and other users' apps.

Each runs the real execution agent, nginx and uWSGI Emperor (bubblewrap vassals); the
fixtures are the execution agent tests' own, imported here.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import stat
import time

import pytest

from execution_agent.config import load_config
from execution_agent.testing.web import WebFrontProcesses, http_get, wait_for_body
from execution_agent.validation import DEFAULT_TMP_BYTES, Args
from execution_agent.web.layout import WebLayout
from execution_agent.web.spec import parse_app
from tests.execution_agent import conftest as agent_fixtures
from tests.execution_agent.test_web import settings_for, write_wsgi

# The execution agent tests' fixtures (a real agent as root, its users), shared, not copied.
uid_base = agent_fixtures.uid_base
django_uid = agent_fixtures.django_uid
socket_gid = agent_fixtures.socket_gid
wildcard_tls = agent_fixtures.wildcard_tls
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
    assert harness.client(timeout=60).web_reload(user=alice, app=settings_for(alice))["ok"]
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
    assert client.web_reload(user=bob, app=victim)["ok"]
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
    assert client.web_reload(user=alice, app=attacker)["ok"]
    # A changed vassal (two processes) is rewritten, which cleans up earlier owners' files.
    assert client.web_reload(user=alice, app={**attacker, "processes": 2})["ok"]
    victim_untouched()
    assert client.web_apply(user=alice, app={**attacker, "enabled": False})["vassal_changed"]
    victim_untouched()
    assert client.web_reload(user=alice, app=attacker)["ok"]
    client.web_remove(user=alice, domain="www.my")
    victim_untouched()
    assert http_get(harness.web_port, "www.my")[0] == 404


VICTIM_APP = r"""
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"victim's private page"]
"""

SOCKET_SWAP_APP = r"""
import os

TARGETS = {targets!r}
VICTIM = {victim!r}


def application(environ, start_response):
    tried = []
    if environ["PATH_INFO"] == "/swap":
        for path in TARGETS:
            try:
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(VICTIM, path)
                tried.append(f"{{path}}: replaced")
            except OSError as exc:
                tried.append(f"{{path}}: {{exc.strerror}}")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("attacker's page\n" + "\n".join(tried)).encode()]
"""


def test_web_app_cannot_swap_its_socket_for_a_link_to_another_apps_socket(harness, web, alice, bob):
    """With its socket directory writable, alice's app replaced its socket by a symlink to
    bob's; nginx followed it and served bob's password-protected app on alice's domain, with
    no password asked."""
    client = harness.client(timeout=60)
    digest = hashlib.sha1(b"secretsalt").digest()  # noqa: S324 - the scheme nginx supports
    hashed = "{SSHA}" + base64.b64encode(digest + b"salt").decode()
    write_wsgi(harness, bob, VICTIM_APP)
    victim = settings_for(bob, auth={"username": "bob", "password_hash": hashed})
    assert client.web_reload(user=bob, app=victim)["ok"]
    bob_host, alice_host = f"{bob['username']}.localhost", f"{alice['username']}.localhost"
    assert http_get(harness.web_port, bob_host)[0] == 401
    sockets = harness.web_dir / "sockets"
    victim_socket = f"{sockets}/{bob['uid']}/{bob['username']}_localhost.sock"
    own = f"{alice['username']}_localhost.sock"
    # Where the socket was in the sandbox, and where it is on the host.
    targets = [f"/run/webapps/{own}", f"{sockets}/{alice['uid']}/{own}"]
    write_wsgi(harness, alice, SOCKET_SWAP_APP.format(targets=targets, victim=victim_socket))
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    status, _, swapped = http_get(harness.web_port, alice_host, "/swap")
    assert status == 200
    for _ in range(3):
        status, _, body = http_get(harness.web_port, alice_host)
        assert b"victim's private page" not in body
        assert status in (200, 404, 502)
    assert b"replaced" not in swapped, swapped
    # The socket nginx connects to: root's, in root's directory, nginx's group only.
    st = os.lstat(targets[1])
    assert stat.S_ISSOCK(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o660
    assert os.stat(os.path.dirname(targets[1])).st_uid == 0


MEMORY_ESCAPE_APP = r"""
import ctypes, os, time

libc = ctypes.CDLL(None)


def hog(seconds):
    block = b"x" * (256 << 20)  # resident, unlike a zero-filled allocation
    time.sleep(seconds)
    return len(block)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    body = b"still here"
    if path == "/renamed":
        libc.prctl(15, b"innocent", 0, 0, 0)  # PR_SET_NAME: no longer called uwsgi
        hog(10)
    elif path == "/child":
        pid = os.fork()
        if pid == 0:
            libc.prctl(15, b"python3", 0, 0, 0)
            hog(30)
            os._exit(0)
        body = str(pid).encode()
    elif path == "/alive":
        try:  # a killed child stays a zombie until its worker, which never waits, is gone
            with open(f"/proc/{environ['QUERY_STRING']}/stat") as handle:
                body = b"gone" if handle.read().split(") ")[1][0] == "Z" else b"alive"
        except FileNotFoundError:
            body = b"gone"
    elif path == "/where":
        with open("/proc/self/cgroup") as handle:
            body = handle.read().encode()
        st = os.statvfs("/tmp")
        body += f"tmp={st.f_blocks * st.f_frsize}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""


def test_renamed_worker_and_forked_child_cannot_escape_the_web_memory_limit(
    harness, web, alice, bob
):
    """The guard killed only processes named uwsgi whose parent was named uwsgi: a worker
    renamed with prctl(PR_SET_NAME), or a child it forked, could use all the machine's memory."""
    client = harness.client(timeout=60)
    write_wsgi(harness, bob, "def application(e, s):\n    s('200 OK', [])\n    return [b'bob']\n")
    assert client.web_reload(user=bob, app=settings_for(bob))["ok"]
    write_wsgi(harness, alice, MEMORY_ESCAPE_APP)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    host = f"{alice['username']}.localhost"
    assert http_get(harness.web_port, host, "/renamed")[0] == 502  # killed, not left to finish
    wait_for_body(harness.web_port, host, b"still here")
    child = int(http_get(harness.web_port, host, "/child")[2])  # as the sandbox numbers it
    wait_for_body(harness.web_port, host, b"gone", f"/alive?{child}", timeout=10)
    assert http_get(harness.web_port, f"{bob['username']}.localhost")[2] == b"bob"
    # Every process of the app is in alice's web cgroup, /tmp capped.
    where = http_get(harness.web_port, host, "/where")[2].decode()
    assert f"/{harness.cgroup_prefix}/web_apps/{alice['username']}" in where, where
    assert f"tmp={DEFAULT_TMP_BYTES}" in where


def test_visitor_cannot_fetch_dotfiles_through_a_static_mapping_of_the_home(harness, web, alice):
    """A mapping of `/` to the home served ~/.bash_history, ~/.my.cnf-style files and .git
    folders to anyone who asked for them by name."""
    client = harness.client(timeout=60)
    home = f"/home/{alice['username']}"
    harness.client().run(
        user=alice,
        argv=[
            "sh",
            "-c",
            "echo 'mysql -p hunter2' > ~/.bash_history; mkdir -p ~/site/.git; "
            "echo secret > ~/site/.git/config; echo hello > ~/public.txt",
        ],
    )
    static = [{"url": "/", "directory": home}]
    assert client.web_reload(user=alice, app=settings_for(alice, static=static))["ok"]
    host = f"{alice['username']}.localhost"
    assert http_get(harness.web_port, host, "/public.txt")[2] == b"hello\n"
    for path in ("/.bash_history", "/%2Ebash_history", "/site/.git/config", "/./.bash_history"):
        status, _, body = http_get(harness.web_port, host, path)
        assert status == 404 and b"hunter2" not in body and b"secret" not in body, path
    # Served only when the user asks for it.
    static = [{"url": "/", "directory": home, "dotfiles": True}]
    assert client.web_reload(user=alice, app=settings_for(alice, static=static))["ok"]
    assert http_get(harness.web_port, host, "/.bash_history")[2] == b"mysql -p hunter2\n"
