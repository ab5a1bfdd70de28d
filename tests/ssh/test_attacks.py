"""Attacks through the SSH gateway. Each would have given the attacker something: the name
and docstring say what."""

import json
import os
import socket
import subprocess
import time

import pytest

from execution_agent import landlock
from execution_agent.testing.harness import free_port

pytestmark = pytest.mark.root

PROBE = """
import json, os, socket, sys
targets, paths, bind_port = json.loads(sys.argv[1])
out = {}
for name, port in targets:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        out[name] = "connected"
    except OSError as exc:
        out[name] = type(exc).__name__
for path in paths:
    out[path] = os.path.exists(path)
for path in ("/etc/warren-probe", "/usr/warren-probe"):
    try:
        open(path, "w")
        out[path] = "written"
    except OSError as exc:
        out[path] = exc.errno
try:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", bind_port))
        out["bind"] = "bound"
except OSError as exc:
    out["bind"] = exc.errno
print(json.dumps(out))
"""


def test_ssh_session_cannot_reach_warren_or_leave_the_sandbox(make_ssh_user, live_server,
                                                               gateway, ssh_agent):  # fmt: skip
    """The session runs as the user in the consoles' sandbox, not as the gateway's account
    on the host: otherwise it would reach the dashboard and the agent, write the system, and
    listen on Warren's ports."""
    alice = make_ssh_user("alice")
    dashboard = int(live_server.url.rsplit(":", 1)[1])
    argument = json.dumps(
        [
            [["dashboard", dashboard], ["sshd", gateway.port]],
            [str(ssh_agent.socket_path), str(gateway.directory), "/home/mallory"],
            free_port(),
        ]
    )
    result = alice.ssh(f"python3 -c '{PROBE}' '{argument}'")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome.pop("dashboard") == outcome.pop("sshd") == "ConnectionRefusedError"
    assert outcome.pop("/etc/warren-probe") == outcome.pop("/usr/warren-probe") == 30  # EROFS
    bind = outcome.pop("bind")
    if landlock.abi_version() >= landlock.NET_ABI:
        assert bind == 13  # EACCES
    assert not any(outcome.values()), outcome  # none of those paths exists in the sandbox


def test_agent_forwarding_is_refused(make_ssh_user, tmp_path):
    """A forwarded agent would let the gateway's account (and anything that took it over)
    sign in to the user's other servers with their keys."""
    alice = make_ssh_user("alice")
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        result = subprocess.run(
            ["ssh", *alice.options, "-o", "LogLevel=DEBUG1", "-A", "-p", str(alice.gateway.port),
             alice.target, "echo ${SSH_AUTH_SOCK:-none}"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        agent.terminate()
        agent.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"
    assert "agent forwarding" not in result.stderr.lower() or "denied" in result.stderr.lower()


def test_remote_port_forward_is_refused(make_ssh_user):
    """A remote forward would open a port on the gateway, listened on by its account outside
    any sandbox and past the firewall: a way into Warren's own services."""
    alice = make_ssh_user("alice")
    result = alice.ssh(
        "true",
        extra=("-o", "ExitOnForwardFailure=yes", "-R", f"127.0.0.1:{free_port()}:127.0.0.1:22"),
    )
    assert result.returncode != 0
    assert "remote port forwarding failed" in result.stderr


def test_local_port_forward_to_warrens_services_is_refused(make_ssh_user, live_server):
    """A local forward connects from the gateway's account on the host, which the sandbox
    firewall does not cover: it would reach the dashboard, Redis, PostgreSQL."""
    alice = make_ssh_user("alice")
    dashboard = int(live_server.url.rsplit(":", 1)[1])
    local = free_port()
    session = subprocess.Popen(
        ["ssh", "-o", "LogLevel=INFO", *alice.options, "-N",
         "-L", f"127.0.0.1:{local}:127.0.0.1:{dashboard}",
         "-p", str(alice.gateway.port), alice.target],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        answer = b""
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", local), timeout=5) as conn:
                    conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    conn.settimeout(5)
                    answer = conn.recv(100)
                break
            except ConnectionRefusedError:
                time.sleep(0.1)  # the client has not set up its listener yet
            except ConnectionResetError:
                break  # the client hung up on us: the gateway refused the channel
    finally:
        session.terminate()
        try:
            _, stderr = session.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a loaded machine: ssh ignored TERM for a while
            session.kill()
            _, stderr = session.communicate()
    assert answer == b""
    assert "administratively prohibited" in stderr


def test_gateway_account_can_call_no_op_but_ssh_session(make_ssh_user, gateway_account,
                                                       ssh_agent):  # fmt: skip
    """The gateway's account must reach the agent's socket; with any op it could start
    processes as any user, read their files or kill their consoles."""
    alice = make_ssh_user("alice")
    code = (
        "import json, sys\n"
        "from execution_agent.client import AgentClient, AgentError\n"
        "client = AgentClient(sys.argv[1])\n"
        "user = json.loads(sys.argv[2])\n"
        "out = {}\n"
        "for op, args in (('spawn', {'user': user, 'argv': ['true']}),\n"
        "                 ('fs_list', {'user': user, 'path': ''}), ('info', {})):\n"
        "    try:\n"
        "        client.call(op, **args)\n"
        "        out[op] = 'ok'\n"
        "    except AgentError as exc:\n"
        "        out[op] = exc.code\n"
        "print(json.dumps(out))\n"
    )
    user = {"uid": alice.user.uid, "username": "alice"}
    result = subprocess.run(
        ["python3", "-c", code, str(ssh_agent.socket_path), json.dumps(user)],
        capture_output=True, text=True, timeout=30, check=False,
        user=gateway_account.pw_uid, group=gateway_account.pw_gid, extra_groups=[],
        cwd=str(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"spawn": "forbidden", "fs_list": "forbidden",
                                         "info": "forbidden"}  # fmt: skip
    # While the same account still opens sessions.
    assert alice.ssh("true").returncode == 0
