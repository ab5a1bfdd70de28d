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


def test_the_default_blocks_the_machine_itself_metadata_and_warrens_ports_anywhere():
    blocked = parse_block(firewall.DEFAULT_BLOCK)
    assert blocked == (
        Blocked(None, None),
        Blocked(ipaddress.ip_network("169.254.169.254/32"), None),
        Blocked(ipaddress.ip_network("fd00:ec2::254/128"), None),
        Blocked(ipaddress.ip_network("0.0.0.0/0"), 8000),
        Blocked(ipaddress.ip_network("::/0"), 8000),
        Blocked(ipaddress.ip_network("0.0.0.0/0"), 8701),
        Blocked(ipaddress.ip_network("::/0"), 8701),
    )
    text = ruleset(table="warren_sandbox", uid_base=1_000_000, blocked=blocked)
    users = "meta skuid 1000000-4294967294"
    assert f"{users} fib daddr type local meta l4proto tcp reject with tcp reset" in text
    assert f"{users} fib daddr type local reject" in text
    assert f"{users} ip daddr 0.0.0.0/0 tcp dport 8000 reject with tcp reset" in text


def test_by_default_users_reach_the_web_apps_port_their_database_servers_and_a_resolver(
    tmp_path,
):
    config = load_config({"WARREN_WEBAPPS_PORT": "8090"})
    assert Blocked(None, 8090) in config.sandbox_allow
    # The users' MariaDB and users' PostgreSQL cluster; never Warren's own 5432 or Redis.
    assert {Blocked(None, 3306), Blocked(None, 5433)} <= set(config.sandbox_allow)
    assert not {Blocked(None, 5432), Blocked(None, 6379)} & set(config.sandbox_allow)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# comment\nnameserver 127.0.0.53\nnameserver 8.8.8.8\nnameserver ::1\n")
    databases = "local:3306,local:5433"
    assert (
        firewall.default_allow(8080, str(resolv))
        == f"local:8080,{databases},127.0.0.53:53,[::1]:53"
    )
    assert firewall.default_allow(8080, str(tmp_path / "missing")) == f"local:8080,{databases}"
    assert load_config({"WARREN_SANDBOX_ALLOW": ""}).sandbox_allow == ()
    # WARREN_SANDBOX_DATABASE_PORTS shapes the default only (./bin/run drops an open-root 3306).
    narrowed = set(load_config({"WARREN_SANDBOX_DATABASE_PORTS": "5433"}).sandbox_allow)
    assert Blocked(None, 5433) in narrowed and Blocked(None, 3306) not in narrowed
    explicit = {"WARREN_SANDBOX_ALLOW": "local:9", "WARREN_SANDBOX_DATABASE_PORTS": "5433"}
    assert load_config(explicit).sandbox_allow == (Blocked(None, 9),)
    with pytest.raises(ConfigError, match="WARREN_SANDBOX_DATABASE_PORTS"):
        load_config({"WARREN_SANDBOX_DATABASE_PORTS": "3306,mysql"})


def test_accepts_come_before_every_reject_and_open_tcp_and_udp():
    text = ruleset(
        table="warren_sandbox",
        uid_base=1_000_000,
        blocked=parse_block(firewall.DEFAULT_BLOCK),
        allowed=parse_block("local:8080,10.1.2.3"),
    )
    lines = [line.strip() for line in text.splitlines() if "meta skuid" in line]
    verdicts = [line.rsplit(" ", 1)[-1] if line.endswith("accept") else "reject" for line in lines]
    assert verdicts == sorted(verdicts)  # every "accept" before any "reject"
    assert "fib daddr type local meta l4proto { tcp, udp } th dport 8080 accept" in lines[0]
    assert lines[1].endswith("ip daddr 10.1.2.3/32 accept")


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
    with pytest.raises(ConfigError, match=f"WARREN_SANDBOX_ALLOW.*{re.escape(raw)}"):
        load_config({"WARREN_SANDBOX_ALLOW": raw})


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
    text = ruleset(
        table="t_check",
        uid_base=1_000_000,
        blocked=parse_block(firewall.DEFAULT_BLOCK),
        allowed=parse_block("local:8080,[::1]:53,10.0.0.0/8"),
    )
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
def guarded_harness(listener):
    """An agent that blocks the listener's port and nothing else of this machine."""
    from execution_agent.testing.harness import AgentHarness, random_uid_base

    harness = AgentHarness(
        # Its own uid span: the session agent's firewall (every local port) covers its span.
        uid_base=random_uid_base(),
        cgroup_prefix=f"warren-fw-{listener}",
        # Not the default (every local port): this checks a port entry and the ports beside it.
        extra_env={"WARREN_SANDBOX_BLOCK": f"127.0.0.1:{listener}"},
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
        assert connect(other.getsockname()[1]) == "connected"  # the ports beside stay open


@pytest.mark.root
def test_cleanup_removes_the_harness_table(guarded_harness):
    if shutil.which("nft") is None:
        pytest.skip("nftables is not installed")
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert f"table inet {guarded_harness.nft_table}" in listed
    guarded_harness.cleanup()
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert guarded_harness.nft_table not in listed
