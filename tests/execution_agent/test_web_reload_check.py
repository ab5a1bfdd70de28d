"""The reload check says "ready" only for a vassal running the ini just written.

The logs here are real files read through the agent's own AppLogs; the lines are uWSGI's own
(as test_web.py's real vassals print them). The end-to-end side (a real uWSGI printing the
marker the check waits for) is every reload in tests/webapps and test_web.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from types import SimpleNamespace

from execution_agent.validation import UserRef
from execution_agent.web.check import ReloadCheck
from execution_agent.web.layout import WebLayout
from execution_agent.web.logs import AppLogs
from execution_agent.web.render import (
    UWSGI_MESSAGE_RE,
    config_marker,
    log_name,
    render_vassal,
)
from execution_agent.web.spec import AppSpec, StaticMapping

USER = UserRef(uid=4_000_123, username="alice")
DOMAIN = "alice.example.com"
WATCHING = b"[uwsgi-fsmon] registered monitor for /var/www/alice_example_com_wsgi.py\n"
READY = b"WSGI app 0 (mountpoint='') ready in 0 seconds on interpreter 0x5 pid: 7 (default app)\n"


def spec(**changes) -> AppSpec:
    base = AppSpec(
        user=USER,
        domain=DOMAIN,
        enabled=True,
        python="3.11",
        processes=2,
        working_dir="/home/alice",
        virtualenv=None,
    )
    return dataclasses.replace(base, **changes)


def test_the_ini_names_its_own_marker_which_changes_with_its_settings():
    mapped_spec = spec(static=(StaticMapping("/assets/", "/home/alice/assets"),))
    assert render_vassal(spec()) == render_vassal(spec())  # the same settings: no restart
    assert config_marker(spec()) == config_marker(spec()) != config_marker(mapped_spec)
    line = f"hook-post-app = print:{config_marker(mapped_spec).decode()}"
    assert line in render_vassal(mapped_spec)


def test_the_marker_lines_go_to_the_server_log_not_the_users_error_log():
    marker = config_marker(spec()).decode()
    for line in (marker, f'running "print:{marker}" (post app)...'):
        assert re.match(UWSGI_MESSAGE_RE, line), line


def test_ready_lines_of_a_start_with_the_previous_ini_are_not_taken_for_the_new_one(tmp_path):
    logs = AppLogs(
        WebLayout(SimpleNamespace(web_dir=tmp_path)), lambda user: contextlib.nullcontext()
    )
    check = ReloadCheck(logs, ("127.0.0.1", 9), lambda: "unused")
    directory = tmp_path / "logs" / str(USER.uid)
    directory.mkdir(parents=True)
    server_log = directory / log_name(DOMAIN, "server")
    (directory / log_name(DOMAIN, "error")).write_bytes(b"")
    server_log.write_bytes(b"*** Starting uWSGI 2.0.21-debian (64bit) ***\n")
    starts = {kind: logs.log_position(USER, log_name(DOMAIN, kind)) for kind in ("server", "error")}
    old = config_marker(spec()) + b"\n"
    new = config_marker(spec(static=(StaticMapping("/a/", "/home/alice/a"),)))
    # The start under way with the old ini finishes after the reload took its positions.
    with server_log.open("ab") as log:
        log.write(WATCHING + READY + old)

    def wait(config) -> str:
        return check.wait_for_app(USER, DOMAIN, starts, time.monotonic() + 0.5, config)

    assert wait(None) == "ready"  # without the marker this was taken for the reload
    assert wait(new) == "timeout"
    with server_log.open("ab") as log:  # the vassal reloaded with the new ini
        log.write(b"...gracefully killing workers...\n" + WATCHING + READY + new + b"\n")
    assert wait(new) == "ready"
