"""Prepare and start the gateway's own OpenSSH server (Debian's sshd, a config of its own).

    python -m ssh_gateway.sshd prepare   # directory, host keys (first start), sshd_config
    python -m ssh_gateway.sshd run       # prepare, then exec sshd in the foreground
    python -m ssh_gateway.sshd run --optional   # ./bin/run: idle, saying why, if SSH can't start

Everyone logs in as one account (``WARREN_SSH_LOGIN``): sshd needs a passwd entry for the
login name, and Warren users have none on the host. The AuthorizedKeysCommand asks Warren
who owns the offered key and answers with a ``restrict,command=...`` line naming that user;
the forced command opens the session in the user's sandbox through the execution agent.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

from ssh_gateway.config import (
    SAFE_PATH_RE,
    ConfigError,
    GatewayConfig,
    load_config,
    write_config,
)

HOST_KEY_TYPES = ("ed25519", "rsa")
# Debian's sshd is built with this privilege separation directory; it must exist.
PRIVSEP_DIR = Path("/run/sshd")


def sshd_config_text(config: GatewayConfig) -> str:
    """The whole sshd_config: keys only, one login, nothing forwarded unless allowed."""
    host_keys = "\n".join(
        f"HostKey {config.directory}/ssh_host_{kind}_key" for kind in HOST_KEY_TYPES
    )
    forwarding = "yes" if config.port_forwarding else "no"
    return f"""\
# Written by `python -m ssh_gateway.sshd prepare`; edits are lost at the next start.
Port {config.port}
ListenAddress {config.listen}
{host_keys}
PidFile {config.directory}/sshd.pid

# Who: one account, authenticated by a key Warren knows (ssh_gateway/keys.py).
AllowUsers {config.login}
PermitRootLogin no
AuthorizedKeysFile none
AuthorizedKeysCommand {config.keys_command} {config.config_path} %u %t %k
AuthorizedKeysCommandUser {config.keys_user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
GSSAPIAuthentication no
PermitEmptyPasswords no
# PAM would print the machine's motd and run its session modules for every login.
UsePAM no
StrictModes yes

# What: the key's command="..." runs the session in the sandbox; nothing else goes through.
AllowAgentForwarding {"yes" if config.agent_forwarding else "no"}
AllowTcpForwarding {forwarding}
AllowStreamLocalForwarding no
GatewayPorts no
X11Forwarding no
PermitTunnel no
PermitUserEnvironment no
PermitUserRC no
AcceptEnv none
PrintMotd no
PrintLastLog no
# The forced command runs it inside the sandbox (internal-sftp would run outside it).
Subsystem sftp /usr/lib/openssh/sftp-server

LogLevel VERBOSE
ClientAliveInterval 60
"""


def ensure_host_keys(directory: Path) -> None:
    """Generate the host keys on first start; later starts keep them (clients pinned them)."""
    for kind in HOST_KEY_TYPES:
        key = directory / f"ssh_host_{kind}_key"
        if key.exists():
            continue
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"warren-{kind}", "-f", str(key)],
            check=True,
            stdin=subprocess.DEVNULL,
        )
        os.chmod(key, 0o600)


def check_command_path(path: str) -> None:
    """sshd runs an AuthorizedKeysCommand only if it and every directory above it are root's
    and writable by no one else; say so at start rather than refuse every login later."""
    current = Path(path)
    while True:
        st = os.stat(current)
        if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigError(
                f"sshd would refuse {path}: {current} must belong to root and be writable by "
                "no one else (put the checkout where root owns every directory, like /opt)"
            )
        if current == current.parent:
            return
        current = current.parent


def prepare(config: GatewayConfig) -> Path:
    """Write the directory, host keys, sshd_config and gateway.json; return sshd_config."""
    if not SAFE_PATH_RE.match(config.keys_command):
        # It goes into sshd_config and authorized_keys lines as it is.
        raise ConfigError(f"the checkout's path {config.keys_command} has characters sshd_config "
                          "cannot hold: move it (spaces, quotes)")  # fmt: skip
    directory = Path(config.directory)
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(directory, 0o755)  # noqa: S103 - both accounts read gateway.json in it
    if os.geteuid() == 0:
        os.chown(directory, 0, 0)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        check_command_path(config.keys_command)
    ensure_host_keys(directory)
    write_config(config)
    path = directory / "sshd_config"
    tmp = directory / ".sshd_config.tmp"
    tmp.write_text(sshd_config_text(config))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    # Refuse to start on a config sshd itself rejects, with sshd's own words.
    check = subprocess.run(
        [config.sshd, "-t", "-f", str(path)], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise ConfigError(f"sshd rejects {path}: {check.stderr.strip()}")
    return path


def port_taken(config: GatewayConfig) -> bool:
    family = socket.AF_INET6 if ":" in config.listen else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.listen, config.port))
        except OSError:
            return True
    return False


def main(argv: list[str]) -> int:
    """``prepare`` | ``run`` [``--optional``]: with --optional (./bin/run's Procfile), what
    keeps SSH from starting is said and the process idles, so the rest of Warren runs on."""
    optional = argv[1:] == ["--optional"]
    if not argv or argv[0] not in ("prepare", "run") or argv[1:] not in ([], ["--optional"]):
        print("usage: python -m ssh_gateway.sshd prepare | run [--optional]", file=sys.stderr)
        return 2
    if argv[0] == "run" and (os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd")):
        reason = "SSH access needs root and Debian's openssh-server"
        if optional:
            return idle(f"{reason}: not started")
        print(f"ssh gateway: {reason}", file=sys.stderr)
        return 2
    try:
        config = load_config()
        path = prepare(config)
        if argv[0] == "run" and port_taken(config):
            raise ConfigError(f"{config.listen}:{config.port} is taken (WARREN_SSH_PORT)")
    except (ConfigError, OSError, subprocess.CalledProcessError) as exc:
        if optional:
            return idle(f"{exc}: SSH access not started")
        print(f"ssh gateway: {exc}", file=sys.stderr)
        return 2
    if argv[0] == "run":
        # -D: stay in the foreground (honcho, systemd); -e: log to stderr.
        os.execv(config.sshd, [config.sshd, "-D", "-e", "-f", str(path)])  # noqa: S606
    return 0


def idle(reason: str) -> int:
    """Say why, then wait: under honcho, a process that exits stops every other one."""
    print(f"ssh gateway: {reason}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
