"""The SSH gateway's settings: read from the environment here, once, when sshd is prepared.

sshd runs the AuthorizedKeysCommand and the forced command with an environment of its own,
so what they need is written to ``gateway.json`` beside sshd_config and handed to them by
path (every line sshd runs names it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "ssh_gateway" / "bin"
LOGIN_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Paths end up inside sshd_config lines and authorized_keys command="..." options.
SAFE_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]*$")


class ConfigError(Exception):
    """A malformed environment variable; the message names it."""


@dataclass(frozen=True)
class GatewayConfig:
    directory: str  # sshd_config, host keys, gateway.json, pid file (root's)
    port: int
    listen: str
    login: str  # the one account every SSH user logs in as; the key says who they are
    keys_user: str  # runs the AuthorizedKeysCommand: reads the secret, asks Warren
    lookup_url: str
    secret_file: str
    agent_socket: str
    agent_forwarding: bool
    port_forwarding: bool
    sshd: str

    @property
    def config_path(self) -> str:
        return f"{self.directory}/gateway.json"

    @property
    def keys_command(self) -> str:
        return str(BIN / "authorized-keys")

    @property
    def session_command(self) -> str:
        return str(BIN / "session")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _path(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not SAFE_PATH_RE.match(value) or "/../" in f"{value}/":
        raise ConfigError(f"{name} must be an absolute path of [A-Za-z0-9._/+-], got {value!r}")
    return value


def _login(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not LOGIN_RE.match(value):
        raise ConfigError(f"{name} must be a Unix login name, got {value!r}")
    return value


def load_config(env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate every variable the gateway uses."""
    env = os.environ if env is None else env
    var_dir = env.get("WARREN_VAR_DIR") or str(ROOT / "var")
    raw_port = env.get("WARREN_SSH_PORT", "2222")
    if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
        raise ConfigError(f"WARREN_SSH_PORT must be a TCP port, got {raw_port!r}")
    listen = env.get("WARREN_SSH_LISTEN", "0.0.0.0")  # noqa: S104 - users connect from afar
    if not re.match(r"^[0-9A-Fa-f.:]+$", listen):
        raise ConfigError(f"WARREN_SSH_LISTEN must be an IP address, got {listen!r}")
    lookup_url = env.get("WARREN_SSH_LOOKUP_URL", "http://127.0.0.1:8000/ssh/lookup/")
    if not re.match(r"^https?://[A-Za-z0-9.:\[\]-]+/[A-Za-z0-9._/-]*$", lookup_url):
        raise ConfigError(f"WARREN_SSH_LOOKUP_URL must be an http(s) URL, got {lookup_url!r}")
    return GatewayConfig(
        directory=_path(env, "WARREN_SSH_DIR", f"{var_dir}/ssh"),
        port=int(raw_port),
        listen=listen,
        login=_login(env, "WARREN_SSH_LOGIN", "warren-ssh"),
        keys_user=_login(env, "WARREN_SSH_KEYS_USER", "warren"),
        lookup_url=lookup_url,
        secret_file=_path(env, "WARREN_SSH_SECRET_FILE", f"{var_dir}/secrets/ssh_secret"),
        agent_socket=_path(env, "WARREN_EXEC_AGENT_SOCKET", "/run/warren/execution-agent.sock"),
        agent_forwarding=_bool(env, "WARREN_SSH_AGENT_FORWARDING", False),
        port_forwarding=_bool(env, "WARREN_SSH_PORT_FORWARDING", False),
        sshd=_path(env, "WARREN_SSHD", "/usr/sbin/sshd"),
    )


def write_config(config: GatewayConfig) -> None:
    """Save the settings the commands sshd runs will read (readable by both accounts)."""
    path = Path(config.config_path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(asdict(config), indent=2) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_config(path: str) -> GatewayConfig:
    """The settings ``write_config`` saved."""
    with open(path) as handle:
        return GatewayConfig(**json.load(handle))
