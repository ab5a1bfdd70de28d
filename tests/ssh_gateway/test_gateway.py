"""The gateway's pieces on their own: settings, the sshd_config it writes (checked by sshd
itself), and the authorized_keys line the key command prints."""

import os
import select
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ssh_gateway.config import ConfigError, load_config, read_config
from ssh_gateway.keys import authorized_line
from ssh_gateway.sshd import prepare, sshd_config_text

REPO = Path(__file__).resolve().parents[2]
LIMITS = {"memory_bytes": 1 << 30, "pids_max": 64, "tmp_bytes": 1 << 20, "cpu_shares": 1024}


@pytest.fixture
def config(tmp_path):
    return load_config({"WARREN_SSH_DIR": str(tmp_path / "ssh"), "WARREN_SSH_PORT": "2022"})


def test_the_line_forces_the_session_command_and_restricts_everything_else(config):
    line = authorized_line(
        config, {"username": "alice", "uid": 1000042, "limits": LIMITS}, "ssh-ed25519", "AAAA"
    )
    options, key_type, key = line.rsplit(" ", 2)
    assert (key_type, key) == ("ssh-ed25519", "AAAA")
    assert options.startswith('restrict,pty,command="')
    command = shlex.split(options.split('command="', 1)[1].rstrip('"'))
    assert command == [config.session_command, config.config_path, "session", "alice",
                       "1000042", str(1 << 30), "64", str(1 << 20), "1024"]  # fmt: skip


def test_forwarding_is_granted_only_when_the_operator_allows_it(tmp_path):
    config = load_config({"WARREN_SSH_DIR": str(tmp_path), "WARREN_SSH_AGENT_FORWARDING": "1",
                          "WARREN_SSH_PORT_FORWARDING": "yes"})  # fmt: skip
    line = authorized_line(config, {"username": "alice", "uid": 7, "limits": LIMITS}, "t", "K")
    assert line.startswith("restrict,pty,agent-forwarding,port-forwarding,command=")
    text = sshd_config_text(config)
    assert "AllowAgentForwarding yes" in text and "AllowTcpForwarding yes" in text


def test_a_refusal_runs_the_message_and_nothing_else(config):
    line = authorized_line(
        config, {"username": "alice", "uid": 7, "refusal": 'Paid "plans" only'}, "t", "K"
    )
    assert line.startswith('restrict,command="') and ",pty" not in line
    assert line.count('"') == 2  # the message is encoded: it cannot close the option


@pytest.mark.parametrize(
    "answer",
    [
        {"username": "Alice; rm -rf /", "uid": 7, "limits": LIMITS},
        {"username": "alice", "uid": True, "limits": LIMITS},
        {"username": "alice", "uid": 7, "limits": {**LIMITS, "pids_max": "64"}},
    ],
)
def test_an_answer_it_cannot_trust_prints_no_line(config, answer):
    with pytest.raises(ValueError):
        authorized_line(config, answer, "ssh-ed25519", "AAAA")


@pytest.mark.parametrize(
    "name, value",
    [
        ("WARREN_SSH_PORT", "70000"),
        ("WARREN_SSH_LOGIN", "Root User"),
        ("WARREN_SSH_DIR", 'relative"/dir'),
        ("WARREN_SSH_LOOKUP_URL", "file:///etc/passwd"),
        ("WARREN_SSH_AGENT_FORWARDING", "maybe"),
        ("WARREN_SSH_LISTEN", "0.0.0.0 \nPermitRootLogin yes"),
    ],
)
def test_malformed_settings_stop_start_up_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config({name: value})


def test_the_written_sshd_config_is_keys_only_and_sshd_accepts_it(tmp_path):
    if os.geteuid() != 0 or not shutil.which("sshd", path="/usr/sbin"):
        pytest.skip("needs root and openssh-server")
    config = load_config({"WARREN_SSH_DIR": str(tmp_path / "ssh"), "WARREN_SSH_LOGIN": "nobody",
                          "WARREN_SSH_KEYS_USER": "nobody"})  # fmt: skip
    path = prepare(config)  # runs `sshd -t` on it
    text = path.read_text()
    for directive in ("PasswordAuthentication no", "KbdInteractiveAuthentication no",
                      "AuthorizedKeysFile none", "AllowUsers nobody", "PermitRootLogin no",
                      "AllowAgentForwarding no", "AllowTcpForwarding no", "X11Forwarding no",
                      "PermitTunnel no", "PermitUserEnvironment no"):  # fmt: skip
        assert f"\n{directive}\n" in text
    host_key = tmp_path / "ssh" / "ssh_host_ed25519_key"
    assert oct(host_key.stat().st_mode & 0o777) == "0o600"
    first = host_key.read_bytes()
    prepare(config)
    assert host_key.read_bytes() == first  # generated on first start only
    assert read_config(config.config_path) == config


def start(tmp_path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "WARREN_SSH_DIR": str(tmp_path / "ssh"), "WARREN_SSH_PORT": str(port),
           "WARREN_SSH_LISTEN": "127.0.0.1", "WARREN_SSH_LOGIN": "nobody",
           "WARREN_SSH_KEYS_USER": "nobody"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "ssh_gateway.sshd", "run", *extra],
        cwd=REPO, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_under_bin_run_a_taken_port_leaves_warren_running_and_says_why(tmp_path):
    """honcho stops every process when one exits: the gateway idles instead, saying why."""
    if os.geteuid() != 0 or not shutil.which("sshd", path="/usr/sbin"):
        pytest.skip("needs root and openssh-server")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        optional = start(tmp_path, port, "--optional")
        assert select.select([optional.stderr], [], [], 60)[0], "it said nothing"
        assert "is taken (WARREN_SSH_PORT)" in optional.stderr.readline()
        with pytest.raises(subprocess.TimeoutExpired):
            optional.wait(timeout=1)  # and it is still there, idle
        optional.terminate()
        optional.communicate(timeout=10)
        # Under systemd it fails, and Restart= tries again.
        strict = start(tmp_path, port)
        assert strict.wait(timeout=30) == 2
        assert "is taken" in strict.communicate()[1]
