"""Attacks from inside a user's sandbox (console, task) on the machine and on Warren itself.

Each test runs the real execution agent (as root: bubblewrap, cgroups, nftables, Landlock) and
performs the attack from a real sandbox.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

from execution_agent import landlock
from execution_agent.testing.harness import REPO_ROOT, AgentHarness, free_port, random_uid_base
from execution_agent.testing.web import WebFrontProcesses, app_settings, http_get

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
    prefix = f"warren-test-{uuid.uuid4().hex[:10]}"
    with AgentHarness(uid_base=random_uid_base(), cgroup_prefix=prefix).running() as agent:
        yield agent


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
def test_task_cannot_squat_the_dashboards_nginxs_or_any_future_port(client, harness, mallory):
    """Without Landlock a task bound 127.0.0.1:8000 while the dashboard restarted and got every
    password typed into the dashboard; 8080 would have given it nginx's traffic and probe."""
    wanted = warrens_ports(harness)
    result = client.run(user=mallory, argv=["python3", "-c", BIND, json.dumps(wanted)])
    assert result["returncode"] == 0, result["stderr"]
    outcome = json.loads(result["stdout"])
    assert outcome == {f"{a}:{p}": 13 for a, p in wanted}  # EACCES for every one


@needs_landlock
def test_console_cannot_squat_the_dashboards_nginxs_or_any_future_port(client, harness, mallory):
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


@needs_landlock
def test_web_app_cannot_squat_nginxs_or_the_dashboards_port(client, harness, web, mallory):
    """A web app (under the Emperor, not the agent) bound 8000 or nginx's port at import time
    and answered the next visitor of the dashboard or of every other user's site."""
    wanted = warrens_ports(harness)
    text = f"WANTED = {wanted!r}\n" + BIND_APP
    written = client.run(
        user=mallory, argv=["sh", "-c", "cat > /var/www/mallory_localhost_wsgi.py"], stdin=text
    )
    assert written["returncode"] == 0, written
    reload = harness.client(timeout=60).web_reload(user=mallory, app=app_settings(mallory))
    assert reload["ok"], reload
    status, _, body = http_get(harness.web_port, "mallory.localhost")
    assert status == 200, body
    assert json.loads(body) == {f"{a}:{p}": 13 for a, p in wanted}


CONNECT = """
import json, socket, sys
results = {}
for address, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((address, port), timeout=3).close()
        results[f"{address}:{port}"] = "connected"
    except OSError as exc:
        results[f"{address}:{port}"] = type(exc).__name__
print(json.dumps(results))
"""


def sandbox_connects(client, user, targets: list[tuple[str, int]]) -> dict[str, str]:
    result = client.run(user=user, argv=["python3", "-c", CONNECT, json.dumps(targets)])
    assert result["returncode"] == 0, result["stderr"]
    return json.loads(result["stdout"])


@contextlib.contextmanager
def listeners(addresses: list[str]):
    """A TCP listener on a free port of each address; yields [(address, port)]."""
    servers = []
    try:
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            servers.append(socket.create_server((address, 0), family=family, backlog=64))
        yield [(address, s.getsockname()[1]) for address, s in zip(addresses, servers, strict=True)]
    finally:
        for server in servers:
            server.close()


def own_addresses() -> list[str]:
    """Every address of this machine's interfaces (loopback, LAN, public), link-local aside."""
    shown = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True)
    found = []
    for interface in json.loads(shown.stdout):
        for info in interface.get("addr_info", []):
            if info.get("scope") != "link" and "tentative" not in info:
                found.append(info["local"])
    return found


def listening_here(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(shutil.which("nft") is None, reason="nftables is not installed")
def test_sandbox_cannot_reach_any_service_of_the_machine_or_cloud_metadata(
    client, harness, web, mallory
):
    """Before, only Redis, PostgreSQL and the fileserver agent were blocked: a console reached
    MariaDB on 3306, the message brokers (5672, 4222, 1883), the dashboard on 8000 and whatever an
    operator runs on localhost, and the cloud metadata address (the machine's credentials)."""
    # Real services of this machine, where they run (Redis, PostgreSQL, brokers). MariaDB's
    # 3306 is the users' database server, open by default (tests/security/test_database_attacks).
    services = [p for p in (6379, 5432, 5672, 4222, 1883, 8000) if listening_here(p)]
    with listeners(own_addresses()) as ours:
        targets = ours + [("127.0.0.1", port) for port in services]
        for address, port in ours:  # root (Warren's own processes) still gets through
            socket.create_connection((address, port), timeout=5).close()
        outcome = sandbox_connects(client, mallory, [*targets, ("169.254.169.254", 80)])
    assert outcome == {
        **{f"{a}:{p}": "ConnectionRefusedError" for a, p in targets},
        "169.254.169.254:80": "ConnectionRefusedError",  # refused at once, not a timeout
    }
    # What users are meant to reach: nginx's port on this machine, to curl their own site.
    socket.create_connection(("127.0.0.1", harness.web_port), timeout=5).close()
    assert sandbox_connects(client, mallory, [("127.0.0.1", harness.web_port)]) == {
        f"127.0.0.1:{harness.web_port}": "connected"
    }


@pytest.fixture
def remote_host():
    """Another machine on the network: a network namespace behind a veth pair, with a
    listener on a free port, on the dashboard's 8000 and on the fileserver's 8701."""
    tag = os.urandom(3).hex()
    namespace, here, there = f"wtest-{tag}", f"wta{tag}", f"wtb{tag}"
    subnet = random.SystemRandom().randrange(0, 250)
    local, remote = f"10.213.{subnet}.1", f"10.213.{subnet}.2"

    def ip(*args: str, inside: bool = False) -> None:
        prefix = ["ip", "netns", "exec", namespace] if inside else []
        subprocess.run([*prefix, "ip", *args], check=True, capture_output=True)

    server = None
    try:
        ip("netns", "add", namespace)
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", namespace)
        ip("addr", "add", f"{local}/30", "dev", here)
        ip("link", "set", here, "up")
        ip("addr", "add", f"{remote}/30", "dev", there, inside=True)
        ip("link", "set", there, "up", inside=True)
        ip("link", "set", "lo", "up", inside=True)
        serve = (
            "import socket, sys, time\n"
            "servers = [socket.create_server((sys.argv[1], p)) for p in (0, 8000, 8701)]\n"
            "print(servers[0].getsockname()[1], flush=True)\n"
            "while True:\n"
            "    time.sleep(60)\n"
        )
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", serve, remote],
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(server.stdout.readline())
        yield remote, port
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", here], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def test_sandbox_still_reaches_other_machines_but_not_a_remote_dashboard_or_fileserver(
    client, mallory, remote_host
):
    """The firewall must not cut users off the network (packages, APIs); a remote file
    server's agent (8701) and the dashboard's port (8000) stay out of reach wherever they run."""
    address, port = remote_host
    outcome = sandbox_connects(client, mallory, [(address, port), (address, 8000), (address, 8701)])
    assert outcome == {
        f"{address}:{port}": "connected",
        f"{address}:8000": "ConnectionRefusedError",
        f"{address}:8701": "ConnectionRefusedError",
    }


TRACE_INIT = """
import ctypes, errno, json, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
found = {}
for name, request in (("attach", 16), ("seize", 0x4206)):
    found[name] = 0 if libc.ptrace(request, 1, None, None) == 0 else ctypes.get_errno()
for path in ("/proc/1/mem", "/proc/1/task/1/mem"):
    try:
        with open(path, "r+b") as handle:
            handle.seek(0x1000)
            handle.read(1)
        found[path] = 0
    except OSError as exc:
        found[path] = exc.errno
local, remote = (ctypes.c_char * 8)(), ctypes.c_uint64(0x400000)
class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
mine, theirs = IoVec(ctypes.addressof(local), 8), IoVec(remote.value, 8)
libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong,
                                  ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
result = libc.process_vm_readv(1, ctypes.byref(mine), 1, ctypes.byref(theirs), 1, 0)
found["process_vm_readv"] = 0 if result >= 0 else ctypes.get_errno()
# The user's own programs stay debuggable: strace of a child it starts.
traced = subprocess.run(["strace", "-f", "-e", "trace=execve", "true"], capture_output=True)
found["strace_child"] = traced.returncode
print(json.dumps(found))
"""

INIT_UNTOUCHABLE = {
    "attach": 1,  # EPERM
    "seize": 1,
    "/proc/1/mem": 13,  # EACCES
    "/proc/1/task/1/mem": 13,
    "process_vm_readv": 1,
    "strace_child": 0,
}


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_task_cannot_trace_or_write_the_sandbox_init(client, mallory):
    """`strace -p 1` stopped the sandbox's init: it reaped nothing, zombies filled pids.max
    and the user's consoles could neither be killed nor attached from the dashboard."""
    result = client.run(user=mallory, argv=["python3", "-c", TRACE_INIT])
    assert result["returncode"] == 0, result["stderr"]
    assert json.loads(result["stdout"]) == INIT_UNTOUCHABLE


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_console_cannot_trace_or_write_the_sandbox_init(client, harness, mallory):
    """The same from a console: its init is the one holding the user's tmux server."""
    out = harness.homes / "mallory" / "trace.json"
    script = "import sys; sys.stdout = open('/home/mallory/trace.json', 'w')\n" + TRACE_INIT
    client.console_start(
        user=mallory, console_id=f"c{os.urandom(6).hex()}", argv=["python3", "-c", script]
    )
    assert json.loads(wait_for_file(out)) == INIT_UNTOUCHABLE


# Every process it can fork, each asleep: the user's cgroup ends at pids.max.
FILL_PIDS = """
import os, time
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3600)
        os._exit(0)
open(os.path.expanduser("~/full"), "w").write("full")
time.sleep(3600)
"""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_user_who_fills_pids_max_cannot_keep_the_dashboard_from_killing_the_console(
    exec_agent, provisioned, settings
):
    """A user at pids.max (a stopped init's zombies, or plain sleeping forks) made Kill fail
    ("reached pids.max": not even the tmux client that ends a session could start) while the
    list still said Running, and no new console could start either."""
    from consoles import services
    from consoles.models import Console
    from tests.factories import person

    settings.WARREN_SANDBOX_PIDS_MAX = 48
    owner = provisioned(person("mallory"))
    (exec_agent.homes / owner.username / "fill.py").write_text(FILL_PIDS)
    launcher = services.launcher_create(owner=owner, name="fill", command="python3 ~/fill.py")
    console = services.console_start(owner=owner, kind=Console.Kind.CUSTOM, launcher=launcher)
    wait_for_file(exec_agent.homes / owner.username / "full", timeout=30)

    services.console_kill(console=console)  # raised an AppError (then ConsoleError) before

    assert not Console.objects.filter(pk=console.pk).exists()
    fresh = services.console_start(owner=owner, kind=Console.Kind.BASH)
    client = exec_agent.client()
    user = {"uid": owner.uid, "username": owner.username}
    deadline = time.monotonic() + 10
    while "@warren:" not in client.console_capture(user=user, console_id=fresh.pk, lines=20):
        assert time.monotonic() < deadline, "the new console never showed a prompt"
        time.sleep(0.05)


OPERATOR_SECRETS = {
    "WARREN_AGENT_SECRETS": "agent-secret-" + "x" * 40,
    "SECRET_KEY": "django-secret-key-value",
    "DATABASE_URL": "postgres://warren:db-password@127.0.0.1/warren",
    "EMAIL_HOST_PASSWORD": "smtp-password-value",
}


@pytest.fixture(scope="module")
def harness_with_secrets():
    """An agent started the way bin/run starts it: the dashboard's secrets in its environment."""
    if not ROOT:
        pytest.skip("needs root")
    agent = AgentHarness(
        uid_base=random_uid_base(),
        cgroup_prefix=f"warren-test-{uuid.uuid4().hex[:10]}",
        extra_env=dict(OPERATOR_SECRETS),
    )
    # First on the agent's PATH: a bwrap that writes down the environment it was given, then
    # runs the real one. The agent's start-up probe runs it with what the agent would hand any
    # child it starts outside a sandbox (nginx, nft).
    spy = agent.base / "spy"
    spy.mkdir(mode=0o755)
    (spy / "env.txt").touch(mode=0o666)
    os.chmod(spy / "env.txt", 0o666)  # noqa: S103 - the probe runs as nobody
    (spy / "bwrap").write_text(f'#!/bin/sh\nenv >> {spy}/env.txt\nexec /usr/bin/bwrap "$@"\n')
    os.chmod(spy / "bwrap", 0o755)  # noqa: S103 - users' launches run it
    agent.extra_env["PATH"] = f"{spy}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    with agent.running():
        yield agent


def assert_no_secret(text: str) -> None:
    for name, value in OPERATOR_SECRETS.items():
        assert name not in text
        assert value not in text


def test_task_cannot_read_the_dashboards_secrets_from_its_environment(harness_with_secrets):
    """A task printing `env` would have shown the agents' HMAC secret, Django's SECRET_KEY,
    the database password and the mail password, had the agent passed its environment on."""
    harness = harness_with_secrets
    user = harness.user(7, "eve")
    try:
        result = harness.client().run(user=user, argv=["env"])
        assert result["returncode"] == 0 and "HOME=/home/eve" in result["stdout"]
        assert_no_secret(result["stdout"])
    finally:
        harness.kill_user_processes({user["uid"]})


def test_console_cannot_read_the_dashboards_secrets_from_its_environment(harness_with_secrets):
    """The same in a console: its shell is the tmux server's child, and the server the
    agent's; and in /proc, where the agent's own initial environment would still show."""
    harness = harness_with_secrets
    user = harness.user(8, "eve2")
    try:
        client = harness.client()
        command = (
            "env > ~/env.txt; cat /proc/*/environ | tr '\\0' '\\n' >> ~/env.txt;"
            " echo end >> ~/env.txt"
        )
        client.console_start(
            user=user, console_id=f"c{os.urandom(6).hex()}", argv=["bash", "-c", command]
        )
        text = wait_for_file(harness.homes / "eve2" / "env.txt")
        deadline = time.monotonic() + 10
        while not text.endswith("end\n") and time.monotonic() < deadline:
            time.sleep(0.05)
            text = (harness.homes / "eve2" / "env.txt").read_text()
        assert "HOME=/home/eve2" in text and "WARREN_TAG_KIND=console" in text
        assert_no_secret(text)
    finally:
        harness.kill_user_processes({user["uid"]})


def test_agents_drop_the_dashboards_secrets_before_starting_anything(harness_with_secrets):
    """nginx, nft and quota tools are started outside any sandbox: they inherited every
    variable the agents had, so a bug in any of them could hand secrets on."""
    from execution_agent.config import drop_secret_variables, is_secret_variable

    environ = {**OPERATOR_SECRETS, "PATH": "/usr/bin", "WARREN_UID_BASE": "1000000"}
    environ["STRIPE_API_KEY"] = "sk_live"
    assert drop_secret_variables(environ) == sorted([*OPERATOR_SECRETS, "STRIPE_API_KEY"])
    assert environ == {"PATH": "/usr/bin", "WARREN_UID_BASE": "1000000"}
    assert not is_secret_variable("WARREN_EXEC_AGENT_SOCKET")
    # The running agent: what its start-up probe of bwrap was given is what any child gets.
    given = (harness_with_secrets.base / "spy" / "env.txt").read_text()
    assert "WARREN_UID_BASE=" in given  # the agent's own environment, not a sandbox's
    assert_no_secret(given)


def test_fileserver_agent_drops_the_dashboards_secrets_once_configured(tmp_path):
    """The fileserver agent runs quota tools as root: they inherited the shared HMAC secret
    (which signs every call that creates homes and sets quotas) and whatever else it had."""
    from fileserver_agent.testing import du_agent_environment

    (tmp_path / "homes").mkdir()
    (tmp_path / "www").mkdir()
    env = du_agent_environment(
        homes=tmp_path / "homes",
        www=tmp_path / "www",
        state=tmp_path / "state",
        secret=OPERATOR_SECRETS["WARREN_AGENT_SECRETS"],
        min_uid=1_000_000,
    )
    child = (
        "import subprocess\n"
        "from fileserver_agent import create_app\n"
        "app = create_app()\n"
        "assert app.extensions['warren_config'].secrets\n"  # read before they were dropped
        "print(subprocess.run(['env'], capture_output=True, text=True).stdout)"
    )
    result = subprocess.run(
        [sys.executable, "-c", child],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), **OPERATOR_SECRETS, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "WARREN_AGENT_BACKEND=du" in result.stdout
    assert_no_secret(result.stdout)
