"""The firewall between sandboxes and Warren's own services: real nftables rules, real sockets."""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import subprocess
import threading

import pytest

from execution_agent import firewall
from execution_agent.config import ConfigError, load_config
from execution_agent.firewall import Blocked, parse_block, ruleset

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    print("connected")
except OSError as exc:
    print(type(exc).__name__)
"""


def test_the_default_blocks_redis_postgres_and_the_fileserver_on_every_local_address():
    blocked = parse_block(firewall.DEFAULT_BLOCK)
    assert blocked == (Blocked(None, 6379), Blocked(None, 5432), Blocked(None, 8701))
    text = ruleset(table="warren_sandbox", uid_base=1_000_000, blocked=blocked)
    assert (
        "meta skuid 1000000-4294967294 fib daddr type local tcp dport 6379 reject with tcp reset"
        in text
    )


def test_entries_take_networks_ports_ipv6_and_any_address():
    assert parse_block(" 10.0.0.0/8 , [fd00::/8]:5672, *:11211 ,") == (
        Blocked(ipaddress.ip_network("10.0.0.0/8"), None),
        Blocked(ipaddress.ip_network("fd00::/8"), 5672),
        Blocked(ipaddress.ip_network("0.0.0.0/0"), 11211),
        Blocked(ipaddress.ip_network("::/0"), 11211),
    )
    assert parse_block("") == ()


@pytest.mark.parametrize(
    "raw", ["redis:6379", "10.0.0.1:0", "10.0.0.1:70000", "::1:6379", "10.0.0.0/33", "[::1"]
)
def test_malformed_entries_fail_the_configuration_naming_the_variable(raw):
    with pytest.raises(ConfigError, match=f"WARREN_SANDBOX_BLOCK.*{re.escape(raw)}"):
        load_config({"WARREN_SANDBOX_BLOCK": raw})


def test_the_table_name_is_checked_before_it_reaches_nft():
    with pytest.raises(ConfigError, match="WARREN_SANDBOX_NFT_TABLE"):
        load_config({"WARREN_SANDBOX_NFT_TABLE": "x; flush ruleset"})


def test_the_ruleset_replaces_the_table_in_one_script_and_matches_users_uids_only():
    text = ruleset(
        table="warren_sandbox", uid_base=1_000_000, blocked=parse_block("127.0.0.1:6379,10.0.0.0/8")
    )
    assert text.splitlines()[:3] == [
        "table inet warren_sandbox",
        "delete table inet warren_sandbox",
        "table inet warren_sandbox {",
    ]
    assert (
        "meta skuid 1000000-4294967294 ip daddr 127.0.0.1/32 tcp dport 6379 reject with tcp reset"
        in text
    )
    assert "meta skuid 1000000-4294967294 ip daddr 10.0.0.0/8 reject" in text


@pytest.mark.skipif(shutil.which("nft") is None, reason="nftables is not installed")
def test_nft_accepts_the_ruleset_it_is_given():
    text = ruleset(table="t_check", uid_base=1_000_000, blocked=parse_block(firewall.DEFAULT_BLOCK))
    check = ["nft", "--check", "-f", "-"]
    result = subprocess.run(check, input=text, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def listener():
    """A TCP service on a loopback port, accepting (and closing) every connection."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def guarded_harness(uid_base, listener):
    """An agent that blocks the listener's port, on top of the defaults."""
    from execution_agent.harness import AgentHarness

    harness = AgentHarness(
        uid_base=uid_base + 5_000,
        cgroup_prefix=f"warren-fw-{listener}",
        extra_env={"WARREN_SANDBOX_BLOCK": f"{firewall.DEFAULT_BLOCK},127.0.0.1:{listener}"},
    )
    harness.start()
    yield harness
    harness.cleanup()


@pytest.mark.root
@pytest.mark.skipif(shutil.which("nft") is None, reason="nftables is not installed")
def test_a_sandbox_cannot_reach_a_blocked_service_that_root_can(guarded_harness, listener):
    client = guarded_harness.client()
    assert not any("firewall" in warning for warning in client.info()["warnings"])
    user = guarded_harness.user(1, "fwuser")

    def connect(port: int) -> str:
        argv = ["python3", "-c", CONNECT, "127.0.0.1", str(port)]
        return client.run(user=user, argv=argv, timeout=20)["stdout"].strip()

    socket.create_connection(("127.0.0.1", listener), timeout=5).close()  # root gets through
    assert connect(listener) == "ConnectionRefusedError"  # the user gets a reset at once
    with socket.create_server(("127.0.0.1", 0)) as other:
        assert connect(other.getsockname()[1]) == "connected"  # everything else stays open
    for port in (6379, 5432):  # this machine's Redis and PostgreSQL, when they are running
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            continue
        assert connect(port) == "ConnectionRefusedError", f"a sandbox reached port {port}"


@pytest.mark.root
def test_cleanup_removes_the_harness_table(guarded_harness):
    if shutil.which("nft") is None:
        pytest.skip("nftables is not installed")
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert f"table inet {guarded_harness.nft_table}" in listed
    guarded_harness.cleanup()
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert guarded_harness.nft_table not in listed
