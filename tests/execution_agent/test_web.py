"""The agent's web ops against a real nginx and uWSGI Emperor (root wrapper, bwrap vassals)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time

import pytest

from execution_agent.client import AgentError
from execution_agent.config import load_config
from execution_agent.errors import OpError
from execution_agent.testing.web import WebFrontProcesses, app_settings, http_get, wait_for_body
from execution_agent.validation import UserRef
from execution_agent.web.layout import WebLayout
from execution_agent.web.nginx import NginxSites
from tests.execution_agent.conftest import WEB_NPROC, WEB_WORKER_RSS_MB

pytestmark = pytest.mark.root

SPY_APP = r"""
import json, os

def application(environ, start_response):
    found = {"uid": os.getuid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
             "homes": sorted(os.listdir("/home")), "tmp": sorted(os.listdir("/tmp")),
             "probe": environ.get("HTTP_X_WARREN_PROBE"), "ini": None}
    try:
        with open("/uwsgi/vassal.ini", "a"):
            found["ini"] = "writable"
    except OSError as exc:
        found["ini"] = exc.strerror
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(found).encode()]
"""


@pytest.fixture(scope="module")
def web(harness):
    front = WebFrontProcesses(harness.env(), harness.web_dir, harness.web_port).start()
    yield front
    front.stop()


settings_for = app_settings


def write_wsgi(harness, user: dict, text: str) -> None:
    """Replace the WSGI file from inside the user's sandbox, as a console would."""
    name = user["username"]
    result = harness.client().run(
        user=user,
        argv=["sh", "-c", f"cat > /var/www/{name}_localhost_wsgi.py"],
        stdin=text,
    )
    assert result["returncode"] == 0, result


def test_reload_serves_the_manual_hello_page_through_nginx(harness, web, alice):
    client = harness.client(timeout=60)
    result = client.web_reload(user=alice, app=settings_for(alice))
    assert result["ok"], result
    status, _, body = http_get(harness.web_port, f"{alice['username']}.localhost")
    assert status == 200
    assert b"Hello, World!" in body
    # nginx writes its access log buffered, flushing at least once a second.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        access = client.web_log(user=alice, domain=f"{alice['username']}.localhost", kind="access")
        if "response-time=" in access["text"]:
            break
        time.sleep(0.1)
    assert "response-time=" in access["text"]


def test_vassal_runs_as_the_user_in_its_own_sandbox(harness, web, alice, bob):
    client = harness.client(timeout=60)
    harness.client().run(user=bob, argv=["touch", "/tmp/bob-was-here"])
    write_wsgi(harness, alice, SPY_APP)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    status, _, body = http_get(harness.web_port, f"{alice['username']}.localhost")
    assert status == 200
    found = json.loads(body)
    assert found["uid"] == alice["uid"]
    assert found["homes"] == [alice["username"]]  # nobody else's home exists in there
    assert "bob-was-here" not in found["tmp"]
    assert max(found["pids"]) < 20  # its own pid namespace: bwrap, the master, a worker
    assert found["ini"] in ("Read-only file system", "Permission denied")
    assert found["probe"] is None  # the agent's probe secret never reaches an app


FORK_BOMB_APP = r"""
import os, time

def application(environ, start_response):
    forked = 0
    # Only on /bomb: the reload's own test request must not set it off.
    for _ in range(1000 if environ["PATH_INFO"] == "/bomb" else 0):
        try:
            pid = os.fork()
        except BlockingIOError:  # EAGAIN: RLIMIT_NPROC reached
            break
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        forked += 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(forked).encode()]
"""


def test_a_fork_bomb_in_a_web_app_stops_at_the_process_limit(harness, web, alice, bob):
    client = harness.client(timeout=60)
    bystander = client.spawn(user=bob, argv=["sleep", "60"])["pid"]
    write_wsgi(harness, alice, FORK_BOMB_APP)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    status, _, body = http_get(harness.web_port, f"{alice['username']}.localhost", "/bomb")
    assert status == 200
    # Stopped at the limit, less what the vassal already runs (bwrap twice, master, worker).
    assert WEB_NPROC - 16 < int(body) < WEB_NPROC
    assert os.path.exists(f"/proc/{bystander}")  # another user's process is untouched


MEMORY_HOG_APP = r"""
import time

def application(environ, start_response):
    if environ["PATH_INFO"] == "/hog":
        hog = b"x" * (256 << 20)  # resident, unlike a zero-filled allocation
        time.sleep(10)
        del hog
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"still here"]
"""


def test_a_worker_past_the_memory_limit_is_killed_and_replaced(harness, web, alice):
    client = harness.client(timeout=60)
    write_wsgi(harness, alice, MEMORY_HOG_APP)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    host = f"{alice['username']}.localhost"
    status, _, _ = http_get(harness.web_port, host, "/hog")
    assert status == 502  # its worker was killed past WEB_WORKER_RSS_MB, not left to finish
    assert WEB_WORKER_RSS_MB < 256
    wait_for_body(harness.web_port, host, b"still here")  # a new worker answers


def test_existing_wsgi_file_is_never_overwritten(harness, web, alice):
    client = harness.client(timeout=60)
    write_wsgi(
        harness, alice, "def application(e, s):\n    s('200 OK', [])\n    return [b'mine']\n"
    )
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    assert http_get(harness.web_port, f"{alice['username']}.localhost")[2] == b"mine"


def test_touching_the_wsgi_file_from_a_console_reloads_the_app(harness, web, alice):
    client = harness.client(timeout=60)
    write_wsgi(harness, alice, "def application(e, s):\n    s('200 OK', [])\n    return [b'one']\n")
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    write_wsgi(harness, alice, "def application(e, s):\n    s('200 OK', [])\n    return [b'two']\n")
    harness.client().run(
        user=alice, argv=["touch", f"/var/www/{alice['username']}_localhost_wsgi.py"]
    )
    wait_for_body(harness.web_port, f"{alice['username']}.localhost", b"two")


def test_vassal_ini_and_nginx_files_are_out_of_every_sandbox(harness, web, alice):
    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    vassal = harness.web_dir / "vassals" / f"{alice['username']}_localhost-u{alice['uid']}.ini"
    st = vassal.stat()
    assert st.st_uid == alice["uid"] and stat.S_IMODE(st.st_mode) == 0o400
    assert stat.S_IMODE((harness.web_dir / "vassals").stat().st_mode) == 0o711
    seen = harness.client().run(user=alice, argv=["sh", "-c", f"ls {harness.web_dir} 2>&1; true"])
    assert "No such file" in seen["stdout"]


def test_failed_reload_reports_the_error_log_and_other_sites_keep_answering(
    harness, web, alice, bob
):
    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    write_wsgi(harness, bob, "def application(:\n")
    result = client.web_reload(user=bob, app=settings_for(bob), timeout=20)
    assert not result["ok"]
    assert "SyntaxError" in result["error_log_tail"]
    assert http_get(harness.web_port, f"{alice['username']}.localhost")[0] == 200


def test_a_broken_nginx_block_is_rolled_back_and_the_other_sites_stay_up(harness, web, alice):
    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    # The agent only renders validated data, so break a block the way a bug would: through
    # the same install path, with text nginx refuses.
    sites = NginxSites(WebLayout(load_config(harness.env())))
    with pytest.raises(OpError, match="nginx rejected"):
        sites.install_site("broken_localhost", "server { listen 127.0.0.1:99999; nonsense; }\n")
    assert not (harness.web_dir / "nginx" / "sites" / "broken_localhost.conf").exists()
    assert sites.nginx_test() is None
    assert http_get(harness.web_port, f"{alice['username']}.localhost")[0] == 200


def test_password_protection_and_https_redirect(harness, web, alice):
    client = harness.client(timeout=60)
    # {SSHA} of "secret" with salt "salt": nginx checks it without crypt(3).
    digest = hashlib.sha1(b"secretsalt").digest()  # noqa: S324 - the scheme nginx supports
    hashed = "{SSHA}" + base64.b64encode(digest + b"salt").decode()
    app = settings_for(alice, auth={"username": "boss", "password_hash": hashed})
    assert client.web_reload(user=alice, app=app)["ok"]
    host = f"{alice['username']}.localhost"
    assert http_get(harness.web_port, host)[0] == 401
    good = "Basic " + base64.b64encode(b"boss:secret").decode()
    assert http_get(harness.web_port, host, headers={"Authorization": good})[0] == 200
    bad = "Basic " + base64.b64encode(b"boss:wrong").decode()
    assert http_get(harness.web_port, host, headers={"Authorization": bad})[0] == 401
    assert client.web_reload(user=alice, app=settings_for(alice, force_https=True))["ok"]
    status, headers, _ = http_get(harness.web_port, host, "/page?x=1")
    assert status == 301
    # To the HTTPS port nginx listens on (a free port in tests, 443 in production).
    assert headers["location"] == f"https://{host}:{harness.web_https_port}/page?x=1"


def test_disabled_and_unknown_hosts_get_the_warren_page(harness, web, alice):
    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    assert client.web_apply(user=alice, app=settings_for(alice, enabled=False))["site_changed"]
    status, _, body = http_get(harness.web_port, f"{alice['username']}.localhost")
    assert status == 404 and b"Served by Warren" in body
    assert b"Served by Warren" in http_get(harness.web_port, "nobody.example.org")[2]
    client.web_remove(user=alice, domain=f"{alice['username']}.localhost")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"domain": "evil.localhost;\nroot"}, "args.app.domain"),
        ({"working_dir": "/home/x\nplugins = ../../evil"}, "args.app.working_dir"),
        ({"working_dir": "/etc"}, "must be inside"),
        ({"processes": 500}, "processes: must be between"),
        ({"python": "3.99"}, "no uWSGI plugin"),
        ({"static": [{"url": "/s/", "directory": "/home/../etc"}]}, "'..'"),
        ({"auth": {"username": "a", "password_hash": "plain\nuser:x"}}, "password_hash"),
    ],
)
def test_settings_that_could_smuggle_configuration_are_refused(
    harness, web, alice, override, message
):
    before = web_dir_snapshot(harness)
    with pytest.raises(AgentError, match=message):
        harness.client().web_apply(user=alice, app=settings_for(alice, **override))
    assert not os.path.exists(harness.web_dir / "nginx" / "sites" / "evil_localhost.conf")
    assert web_dir_snapshot(harness) == before  # refused before anything was written


def web_dir_snapshot(harness) -> dict[str, tuple[int, float]]:
    """Size and mtime of every nginx block, vassal, launch spec and vassal conf."""
    found = {}
    for part in ("nginx/sites", "vassals", "specs", "confs"):
        for root, _, names in os.walk(harness.web_dir / part):
            for name in names:
                st = os.stat(os.path.join(root, name))
                found[os.path.join(root, name)] = (st.st_size, st.st_mtime)
    return found


def test_access_logs_are_rotated_by_size_and_nginx_reopens_them(harness, web, alice):
    from execution_agent.web.layout import read_pid
    from execution_agent.web.render import LOG_MAX_BYTES
    from execution_agent.web.run import rotate_access_logs

    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    layout = WebLayout(load_config(harness.env()))
    log = layout.access_logs_of(UserRef(**alice)) / f"{alice['username']}.localhost.access.log"
    with open(log, "ab") as handle:
        handle.write(b"x" * (LOG_MAX_BYTES + 1))
    rotate_access_logs(layout, read_pid(layout.nginx_pid))
    assert (log.parent / (log.name + ".1")).stat().st_size > LOG_MAX_BYTES
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        http_get(harness.web_port, f"{alice['username']}.localhost", "/after-rotation")
        if log.exists() and b"/after-rotation" in log.read_bytes():
            break
        time.sleep(0.2)
    assert b"/after-rotation" in log.read_bytes()


TRACEBACK_APP = r"""
def application(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("the traceback the user came to read")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]
"""


def test_the_error_log_survives_reloads_and_rotates_by_size_only(harness, web, alice):
    from execution_agent.web.render import LOG_KEEP, LOG_MAX_BYTES
    from execution_agent.web.run import rotate_app_logs

    client = harness.client(timeout=60)
    domain = f"{alice['username']}.localhost"
    write_wsgi(harness, alice, TRACEBACK_APP)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    assert http_get(harness.web_port, domain, "/boom")[0] >= 500
    for _ in range(2):
        assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    error = client.web_log(user=alice, domain=domain, kind="error")
    assert "the traceback the user came to read" in error["text"]
    assert error["previous"] == []
    server = client.web_log(user=alice, domain=domain, kind="server")
    assert "logsize:" not in server["text"] and server["previous"] == []

    # Past the size limit, the log moves to .1 (and the older ones along), keeping LOG_KEEP.
    layout = WebLayout(load_config(harness.env()))
    log = layout.user_logs(UserRef(**alice)) / f"{domain}.error.log"
    for round_number in range(LOG_KEEP + 2):
        with open(log, "ab") as handle:
            handle.write(f"round {round_number}\n".encode() + b"x" * LOG_MAX_BYTES)
        rotate_app_logs(layout)
    error = client.web_log(user=alice, domain=domain, kind="error", max_bytes=100)
    assert error["size"] == 0
    assert [item["rotation"] for item in error["previous"]] == list(range(1, LOG_KEEP + 1))
    newest = client.web_log(user=alice, domain=domain, kind="error", rotation=1, max_bytes=1)
    assert newest["size"] > LOG_MAX_BYTES
    fd, _ = client.web_log_open(user=alice, domain=domain, kind="error", rotation=1)
    newest_first_line = f"round {LOG_KEEP + 1}\n".encode()
    with os.fdopen(fd, "rb") as handle:
        assert handle.read(len(newest_first_line)) == newest_first_line
    # The app keeps logging into the same (truncated) file.
    assert http_get(harness.web_port, domain, "/boom")[0] >= 500
    wait_until_logged(client, alice, domain, "the traceback the user came to read")


def wait_until_logged(client, user: dict, domain: str, needle: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if needle in client.web_log(user=user, domain=domain, kind="error")["text"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not in the error log")


def test_the_emperors_start_up_warnings_are_explained_and_no_others_appear(harness, web):
    from execution_agent.web.run import EMPEROR_WARNINGS_EXPLAINED

    output = web.output("emperor")
    explained = output.index(EMPEROR_WARNINGS_EXPLAINED)
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert warnings, output  # uWSGI's own; if a version stops printing them, drop the note
    assert all(output.index(line) > explained for line in warnings)
    assert {line.strip() for line in warnings} <= {
        "*** WARNING: you are running uWSGI as root !!! (use the --uid flag) ***",
        "*** WARNING: you are running uWSGI without its master process manager ***",
    }, warnings


def test_web_cgroups_are_made_again_when_the_emperor_starts_after_a_reboot(harness, web, alice):
    from execution_agent.teardown import remove_cgroups
    from execution_agent.web.layout import web_cgroups_of

    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    backend = web_cgroups_of(load_config(harness.env()))
    assert backend.pids(alice["username"])
    web.stop()
    remove_cgroups(backend.prefix)  # what a reboot does to every cgroup
    assert backend.pids(alice["username"]) == []
    web.start()
    wait_for_body(harness.web_port, f"{alice['username']}.localhost", b"Hello, World!")
    assert backend.pids(alice["username"])  # the restarted vassal is in its group again
    assert backend.pids_exhausted(alice["username"]) is False


def test_a_users_web_group_weighs_as_much_as_all_their_apps_workers(harness, web, alice):
    from execution_agent.web.layout import WEB_CPU_SHARES_PER_WORKER, web_cgroups_of

    client = harness.client(timeout=60)
    backend = web_cgroups_of(load_config(harness.env()))
    shop = f"www.{alice['username']}-shop.test"
    client.web_apply(user=alice, app=settings_for(alice, processes=2))
    client.web_apply(user=alice, app=settings_for(alice, domain=shop, processes=3))
    assert backend.cpu_shares(alice["username"]) == 5 * WEB_CPU_SHARES_PER_WORKER
    # A changed app counts with its new workers, not its old ones as well.
    client.web_apply(user=alice, app=settings_for(alice, processes=1))
    assert backend.cpu_shares(alice["username"]) == 4 * WEB_CPU_SHARES_PER_WORKER


def test_web_stop_ends_one_users_vassals_until_the_next_reload(harness, web, alice, bob):
    """A home move's final pass: no worker of the user's may write to the old copy."""
    from execution_agent.ops.home_mounts import _uwsgi_processes

    client = harness.client(timeout=60)
    for user in (alice, bob):
        assert client.web_reload(user=user, app=settings_for(user))["ok"]
    assert _uwsgi_processes(alice["uid"])
    stopped = client.web_stop(user=alice)
    assert len(stopped["stopped"]) == 1 and stopped["stopped"][0].startswith(alice["username"])
    assert _uwsgi_processes(alice["uid"]) == []
    status, _, _ = http_get(harness.web_port, f"{alice['username']}.localhost")
    assert status != 200
    # Someone else's app goes on answering.
    assert http_get(harness.web_port, f"{bob['username']}.localhost")[0] == 200
    assert client.web_reload(user=alice, app=settings_for(alice))["ok"]
    assert http_get(harness.web_port, f"{alice['username']}.localhost")[0] == 200
