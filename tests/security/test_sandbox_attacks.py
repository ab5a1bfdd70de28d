"""Attacks from inside a user's sandbox (console, task) on the machine and on Warren itself.

Each test runs the real execution agent (as root: bubblewrap, cgroups, nftables, Landlock) and
performs the attack from a real sandbox.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

import pytest

from execution_agent import landlock
from execution_agent.harness import AgentHarness, free_port
from execution_agent.webclient import web_reload
from execution_agent.webharness import WebFrontProcesses, http_get

pytestmark = pytest.mark.root
ROOT = os.geteuid() == 0

BIND = """
import json, socket, sys
results = {}
for address, port in json.loads(sys.argv[1]):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as sock:
        try:
            sock.bind((address, port))
            sock.listen()
            results[f"{address}:{port}"] = "bound"
        except OSError as exc:
            results[f"{address}:{port}"] = exc.errno
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def harness():
    if not ROOT:
        pytest.skip("needs root")
    agent = AgentHarness(
        uid_base=3_000_000 + random.SystemRandom().randrange(0, 50_000) * 10_000,
        cgroup_prefix=f"warren-test-{uuid.uuid4().hex[:10]}",
    )
    try:
        agent.start()
        yield agent
    finally:
        agent.cleanup()


@pytest.fixture
def client(harness):
    return harness.client()


@pytest.fixture
def mallory(harness):
    user = harness.user(random.SystemRandom().randrange(1, 9_000), "mallory")
    yield user
    harness.kill_user_processes({user["uid"]})


def wait_for_file(path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def warrens_ports(harness) -> list[tuple[str, int]]:
    """Daphne's 8000, nginx's 8080 and this harness's web port, the fileserver agent's 8701,
    and a port nothing uses now (Warren could take it at its next start), on each address."""
    ports = [8000, 8080, harness.web_port, 8701, free_port()]
    return [(address, port) for port in ports for address in ("127.0.0.1", "0.0.0.0", "::")]


needs_landlock = pytest.mark.skipif(
    landlock.abi_version() < landlock.NET_ABI, reason="kernel without Landlock networking"
)


@needs_landlock
def test_task_cannot_squat_daphnes_nginxs_or_any_future_port(client, harness, mallory):
    """Without Landlock a task bound 127.0.0.1:8000 while daphne restarted and got every
    password typed into the dashboard; 8080 would have given it nginx's traffic and probe."""
    wanted = warrens_ports(harness)
    result = client.run(user=mallory, argv=["python3", "-c", BIND, json.dumps(wanted)])
    assert result["returncode"] == 0, result["stderr"]
    outcome = json.loads(result["stdout"])
    assert outcome == {f"{a}:{p}": 13 for a, p in wanted}  # EACCES for every one


@needs_landlock
def test_console_cannot_squat_daphnes_nginxs_or_any_future_port(client, harness, mallory):
    """The console path (tmux server sandbox, then the shell it forks) is held the same way."""
    wanted = warrens_ports(harness)
    out = harness.homes / "mallory" / "binds.json"
    script = "import sys; sys.stdout = open('/home/mallory/binds.json', 'w')\n" + BIND
    console_id = f"c{os.urandom(6).hex()}"
    client.console_start(
        user=mallory, console_id=console_id, argv=["python3", "-c", script, json.dumps(wanted)]
    )
    outcome = json.loads(wait_for_file(out))
    assert outcome == {f"{a}:{p}": 13 for a, p in wanted}


BIND_APP = (
    BIND.replace("print(json.dumps(results))", "")
    .replace("json.loads(sys.argv[1])", "WANTED")
    .replace("import json, socket, sys", "import json, socket")
    + """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(results).encode()]
"""
)


@pytest.fixture(scope="module")
def web(harness):
    front = WebFrontProcesses(harness.env(), harness.web_dir, harness.web_port).start()
    yield front
    front.stop()


def web_app(user: dict) -> dict:
    name = user["username"]
    return {
        "domain": f"{name}.localhost",
        "enabled": True,
        "python": "3.11",
        "processes": 1,
        "working_dir": f"/home/{name}",
        "virtualenv": None,
        "static": [],
        "auth": None,
        "force_https": False,
        "wsgi_template": {
            "framework": "manual",
            "project_dir": f"/home/{name}",
            "module": "wsgi",
            "callable": "application",
        },
    }


@needs_landlock
def test_web_app_cannot_squat_nginxs_or_daphnes_port(client, harness, web, mallory):
    """A web app (under the Emperor, not the agent) bound 8000 or nginx's port at import time
    and answered the next visitor of the dashboard or of every other user's site."""
    wanted = warrens_ports(harness)
    text = f"WANTED = {wanted!r}\n" + BIND_APP
    written = client.run(
        user=mallory, argv=["sh", "-c", "cat > /var/www/mallory_localhost_wsgi.py"], stdin=text
    )
    assert written["returncode"] == 0, written
    reload = web_reload(harness.client(timeout=60), user=mallory, app=web_app(mallory))
    assert reload["ok"], reload
    status, _, body = http_get(harness.web_port, "mallory.localhost")
    assert status == 200, body
    assert json.loads(body) == {f"{a}:{p}": 13 for a, p in wanted}
