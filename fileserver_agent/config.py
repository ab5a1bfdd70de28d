"""The agent's configuration: read in this one place, validated before the first request.

Values come from the environment, optionally on top of a ``KEY=VALUE`` file named by
``WARREN_AGENT_CONFIG`` (the same format systemd's ``EnvironmentFile=`` reads, so one file
serves the unit, uWSGI and ``python -m fileserver_agent``). The environment wins.
Every problem raises ConfigError with a message that names the variable.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("du", "ext4", "btrfs")
MIN_SECRET_LENGTH = 16

DEFAULTS = {
    "WARREN_HOMES_ROOT": "/home",
    "WARREN_WWW_ROOT": "/var/www-warren",
    "WARREN_AGENT_BACKEND": "du",
    "WARREN_AGENT_STATE_DIR": "/var/lib/warren-fileserver-agent",
    "WARREN_AGENT_MIN_UID": "1000",
    "WARREN_DU_RESCAN_SECONDS": "60",
    "WARREN_QUOTA_FILESYSTEM": "",
    "WARREN_QUOTA_TOOLS_PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "WARREN_AGENT_COMMAND_TIMEOUT": "300",
    "WARREN_AGENT_METRICS_ADDRESS": "",
    "WARREN_SNAPSHOT_ROOT": "",
}


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class AgentConfig:
    """Validated settings for one agent process."""

    homes_root: Path
    www_root: Path
    backend: str
    secrets: tuple[str, ...]
    state_dir: Path
    min_uid: int
    du_rescan_seconds: float
    quota_filesystem: Path | None
    quota_tools_path: str
    command_timeout: float
    # host:port of the unsigned Prometheus page (fileserver_agent/metrics.py); "" = none.
    metrics_address: str = ""
    # Last night's copy of the homes root (fileserver_agent/snapshots.py); None = none kept.
    snapshot_root: Path | None = None


def read_config_file(path: str) -> dict[str, str]:
    """Parse a ``KEY=VALUE`` file (comments, blank lines and shell quoting allowed)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"WARREN_AGENT_CONFIG={path}: cannot read it ({exc.strerror})") from exc
    values = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"WARREN_AGENT_CONFIG={path}: line {number} is not KEY=VALUE")
        parts = shlex.split(value, comments=False) if value.strip() else [""]
        values[key.strip()] = " ".join(parts)
    return values


def load_config(environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Build and validate the configuration from ``environ`` (default: os.environ)."""
    environ = os.environ if environ is None else environ
    values = dict(DEFAULTS)
    config_file = environ.get("WARREN_AGENT_CONFIG")
    if config_file:
        values.update(read_config_file(config_file))
    values.update({key: value for key, value in environ.items() if key.startswith("WARREN_")})
    # Check everything that has no side effect first, so a typo never leaves directories
    # behind; only then create the ones the agent owns.
    backend = _choice(values, "WARREN_AGENT_BACKEND", BACKENDS)
    settings = {
        "backend": backend,
        "secrets": _secrets(values),
        "min_uid": _integer(values, "WARREN_AGENT_MIN_UID", minimum=1),
        "du_rescan_seconds": _number(values, "WARREN_DU_RESCAN_SECONDS", minimum=1),
        "command_timeout": _number(values, "WARREN_AGENT_COMMAND_TIMEOUT", minimum=1),
        "quota_tools_path": values["WARREN_QUOTA_TOOLS_PATH"],
        "homes_root": _existing_dir(values, "WARREN_HOMES_ROOT"),
        "quota_filesystem": _quota_filesystem(values, backend),
        "metrics_address": metrics_address(values, "WARREN_AGENT_METRICS_ADDRESS"),
        "snapshot_root": (
            _existing_dir(values, "WARREN_SNAPSHOT_ROOT")
            if values["WARREN_SNAPSHOT_ROOT"].strip()
            else None
        ),
    }
    for name in ("WARREN_WWW_ROOT", "WARREN_AGENT_STATE_DIR"):
        _absolute(values, name)
    return AgentConfig(
        **settings,
        www_root=_dir_created_if_missing(values, "WARREN_WWW_ROOT", mode=0o755),
        state_dir=_dir_created_if_missing(values, "WARREN_AGENT_STATE_DIR", mode=0o700),
    )


def _choice(values: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = values[name].strip()
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: must be one of {', '.join(choices)}")
    return value


def _absolute(values: Mapping[str, str], name: str) -> Path:
    raw = values[name].strip()
    if not raw or not os.path.isabs(raw):
        raise ConfigError(f"{name}={raw!r}: must be an absolute path")
    return Path(os.path.normpath(raw))


def _existing_dir(values: Mapping[str, str], name: str) -> Path:
    # Never created by the agent: if the homes volume failed to mount, creating the
    # directory would quietly put every new home on the root filesystem.
    path = _absolute(values, name)
    if not path.is_dir():
        raise ConfigError(f"{name}={path}: no such directory (mount or create it first)")
    return path


def _dir_created_if_missing(values: Mapping[str, str], name: str, *, mode: int) -> Path:
    path = _absolute(values, name)
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{name}={path}: cannot create it ({exc.strerror})") from exc
    if not path.is_dir():
        raise ConfigError(f"{name}={path}: exists but is not a directory")
    return path


def _secrets(values: Mapping[str, str]) -> tuple[str, ...]:
    raw = values.get("WARREN_AGENT_SECRETS", "")
    secrets = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not secrets:
        raise ConfigError(
            "WARREN_AGENT_SECRETS is not set: give one or more shared secrets, comma-separated"
        )
    short = [
        index for index, secret in enumerate(secrets, start=1) if len(secret) < MIN_SECRET_LENGTH
    ]
    if short:
        raise ConfigError(
            f"WARREN_AGENT_SECRETS: secret #{short[0]} is shorter than "
            f"{MIN_SECRET_LENGTH} characters"
        )
    return secrets


def _integer(values: Mapping[str, str], name: str, *, minimum: int) -> int:
    raw = values[name].strip()
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: must be a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value}: must be at least {minimum}")
    return value


def _number(values: Mapping[str, str], name: str, *, minimum: float) -> float:
    raw = values[name].strip()
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: must be a number of seconds") from None
    if not value >= minimum:
        raise ConfigError(f"{name}={raw}: must be at least {minimum:g}")
    return value


def metrics_address(values: Mapping[str, str], name: str) -> str:
    """``host:port`` (IPv6 in brackets) or "" for none; shared with the execution agent."""
    raw = values.get(name, "").strip()
    if not raw:
        return ""
    host, sep, port = raw.rpartition(":")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        host = "not an address"  # an IPv6 address must be bracketed to tell it from the port
    try:
        ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not 0 <= number <= 65535:
        raise ConfigError(f"{name}={raw!r}: must be an IP address and port, e.g. 127.0.0.1:9701")
    return raw


def _quota_filesystem(values: Mapping[str, str], backend: str) -> Path | None:
    if backend != "ext4":
        return None
    if not values["WARREN_QUOTA_FILESYSTEM"].strip():
        raise ConfigError(
            "WARREN_QUOTA_FILESYSTEM is not set: the ext4 backend needs the mount point "
            "that holds the homes (the one with usrquota in /etc/fstab)"
        )
    return _existing_dir(values, "WARREN_QUOTA_FILESYSTEM")
