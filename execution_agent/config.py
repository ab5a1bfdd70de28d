"""The agent's configuration: read from the environment in this one place, validated at start-up."""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import os
import pwd
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from execution_agent import firewall, home_mounts, landlock
from execution_agent.validation import MAX_UID

CGROUP_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


# Operators export these for Django beside the agents (bin/run, systemd EnvironmentFile): read
# or not, an agent drops them so no child it starts (nginx, nft, quota tools) inherits them.
SECRET_VARIABLES = frozenset(
    {"SECRET_KEY", "DATABASE_URL", "EMAIL_HOST_PASSWORD", "WARREN_AGENT_SECRETS", "REDIS_URL"}
)
SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "API_KEY", "PRIVATE_KEY", "CREDENTIAL")


def is_secret_variable(name: str) -> bool:
    upper = name.upper()
    return upper in SECRET_VARIABLES or any(word in upper for word in SECRET_WORDS)


def drop_secret_variables(environ=None) -> list[str]:
    """Remove secret-looking variables from the process's environment; return their names.

    Call after the configuration is read: the values live on in the config objects only.
    """
    environ = os.environ if environ is None else environ
    names = sorted(name for name in environ if is_secret_variable(name))
    for name in names:
        del environ[name]
    return names


class ConfigError(Exception):
    """A malformed environment variable; the message names it."""


@dataclass(frozen=True)
class Config:
    socket_path: Path
    socket_gid: int
    allowed_uids: frozenset[int]
    homes_root: Path
    www_root: Path
    uid_base: int
    cgroup_prefix: str
    run_dir: Path
    production: bool
    cgroup_favor_dynmods: bool = False
    # Web apps (execution_agent/web*.py): the Emperor's vassals, nginx's files, sockets, logs.
    web_dir: Path = Path("/var/lib/warren-web")
    webapps_port: int = 8080
    webapps_address: str = "127.0.0.1"
    # HTTPS for users' sites (execution_agent/web/tls.py): nginx listens here too, and the
    # platform's own <user>.<domain> sites use the operator's wildcard certificate (optional).
    webapps_https_port: int = 8443
    webapps_https_address: str = "127.0.0.1"
    wildcard_certificate: Path | None = None
    wildcard_key: Path | None = None
    # The most processes a user may have once their web app's vassal is running (RLIMIT_NPROC,
    # set by the vassal wrapper): a fork bomb in a web app stops there.
    web_nproc: int = 512
    # The agent kills a web worker whose resident memory passes this, in MiB, and its master
    # starts a new one: vassals join no memory cgroup, so this is their memory limit.
    web_worker_rss_mb: int = 1024
    # Each file server's homes, mounted on this server (execution_agent/home_mounts.py):
    # (hostname, path) pairs; empty: one file server, mounted at homes_root itself.
    fileserver_mounts: tuple[tuple[str, str], ...] = ()
    # Each file server's web directories, mounted here (the same file servers); empty: web
    # directories are not switched by home_mount_set.
    fileserver_www_mounts: tuple[tuple[str, str], ...] = ()
    # The firewall between sandboxes and Warren's own services (execution_agent/firewall.py).
    sandbox_block: tuple[firewall.Blocked, ...] = ()
    # What users reach despite sandbox_block (accepted first).
    sandbox_allow: tuple[firewall.Blocked, ...] = ()
    # The highest uid the firewall's rules cover: every uid from uid_base in production; agents
    # side by side (test harnesses) each cover their own span, or one's rejects hit the other.
    uid_last: int = MAX_UID
    nft_table: str = firewall.DEFAULT_TABLE
    # TCP ports user code may listen on (execution_agent/landlock.py); none by default.
    sandbox_bind_ports: tuple[int, ...] = ()
    # Production refuses to start on a kernel without Landlock networking unless this is set.
    landlock_optional: bool = False
    # Consoles' tmux attach clients as sandboxed processes, not the agent's own (tmux_client).
    console_client_processes: bool = False
    # Peers that may call ssh_session and nothing else: the SSH gateway's login account
    # (ssh_gateway/session.py), which must reach the socket but must not spawn as anyone.
    ssh_uids: frozenset[int] = frozenset()
    # host:port of the Prometheus page (execution_agent/metrics.py); "" = none.
    metrics_address: str = ""
    # The batteries (bin/lib/common.sh ensure_batteries), shown read-only at /opt/warren in
    # every sandbox: packages on python3's path and a pip wheels directory. None: no batteries.
    batteries_dir: Path | None = None


def _absolute_path(env: Mapping[str, str], name: str, default: str) -> Path:
    value = env.get(name, default)
    if not value.startswith("/") or "\0" in value:
        raise ConfigError(f"{name} must be an absolute path, got {value!r}")
    return Path(os.path.normpath(value))


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _socket_gid(env: Mapping[str, str]) -> int:
    raw = env.get("WARREN_EXEC_AGENT_GROUP")
    if raw is None:
        try:
            return grp.getgrnam("warren").gr_gid
        except KeyError:
            return pwd.getpwuid(0).pw_gid
    if raw.isdigit():
        return int(raw)
    try:
        return grp.getgrnam(raw).gr_gid
    except KeyError:
        raise ConfigError(f"WARREN_EXEC_AGENT_GROUP: no group named {raw!r}") from None


def _allowed_uids(env: Mapping[str, str]) -> frozenset[int]:
    raw = env.get("WARREN_EXEC_AGENT_ALLOWED_UIDS")
    if raw is None:
        uids = {0}
        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam("warren").pw_uid)
        return frozenset(uids)
    uids = set()
    for item in raw.split(","):
        item = item.strip()
        if not item.isdigit():
            raise ConfigError(
                f"WARREN_EXEC_AGENT_ALLOWED_UIDS must be a comma list of uids, got {raw!r}"
            )
        uids.add(int(item))
    return frozenset(uids)


def _ssh_uids(env: Mapping[str, str]) -> frozenset[int]:
    raw = env.get("WARREN_EXEC_AGENT_SSH_UIDS")
    if raw is None:
        try:
            return frozenset({pwd.getpwnam(env.get("WARREN_SSH_LOGIN", "warren-ssh")).pw_uid})
        except KeyError:
            return frozenset()
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not all(item.isdigit() for item in items):
        raise ConfigError(f"WARREN_EXEC_AGENT_SSH_UIDS must be a comma list of uids, got {raw!r}")
    return frozenset(int(item) for item in items)


def _cgroup_prefix(env: Mapping[str, str]) -> str:
    value = env.get("WARREN_CGROUP_PREFIX", "warren")
    if not CGROUP_PREFIX_RE.match(value) or ".." in value.split("/"):
        raise ConfigError(f"WARREN_CGROUP_PREFIX must be a relative cgroup path, got {value!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _address(
    env: Mapping[str, str], name: str = "WARREN_WEBAPPS_ADDRESS", default: str = "127.0.0.1"
) -> str:
    value = env.get(name, default)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(f"{name} must be an IP address, got {value!r}") from None
    return value


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    return _absolute_path(env, name, "/") if env.get(name) else None


def _metrics_address(env: Mapping[str, str]) -> str:
    raw = env.get("WARREN_EXEC_METRICS_ADDRESS", "").strip()
    if not raw:
        return ""
    host, sep, port = raw.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        if ":" in host and not bracketed:
            raise ValueError  # an IPv6 address must be bracketed to tell it from the port
        ipaddress.ip_address(host.strip("[]"))
        if not sep or not 0 <= int(port) <= 65535:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"WARREN_EXEC_METRICS_ADDRESS must be an IP address and port, got {raw!r}"
        ) from None
    return raw


def _sandbox_block(env: Mapping[str, str]) -> tuple[firewall.Blocked, ...]:
    try:
        return firewall.parse_block(env.get("WARREN_SANDBOX_BLOCK", firewall.DEFAULT_BLOCK))
    except firewall.FirewallError as exc:
        raise ConfigError(str(exc)) from None


def _sandbox_bind_ports(env: Mapping[str, str]) -> tuple[int, ...]:
    try:
        return landlock.parse_ports(env.get("WARREN_SANDBOX_BIND_PORTS", ""))
    except landlock.LandlockError as exc:
        raise ConfigError(str(exc)) from None


def _sandbox_database_ports(env: Mapping[str, str]) -> tuple[int, ...]:
    raw = env.get("WARREN_SANDBOX_DATABASE_PORTS")
    if raw is None:
        return firewall.USERS_DATABASE_PORTS
    try:
        return landlock.parse_ports(raw)
    except landlock.LandlockError as exc:
        raise ConfigError(str(exc).replace("BIND_PORTS", "DATABASE_PORTS")) from None


def _sandbox_allow(
    env: Mapping[str, str], webapps_port: int, https_port: int
) -> tuple[firewall.Blocked, ...]:
    raw = env.get("WARREN_SANDBOX_ALLOW")
    if raw is None:
        # WARREN_SANDBOX_DATABASE_PORTS shapes only the default: ./bin/run leaves out a local
        # MariaDB whose root takes no password, which would make every sandbox its root.
        raw = firewall.default_allow(
            webapps_port, database_ports=_sandbox_database_ports(env), https_port=https_port
        )
    try:
        return firewall.parse_allow(raw)
    except firewall.FirewallError as exc:
        raise ConfigError(str(exc)) from None


def _nft_table(env: Mapping[str, str]) -> str:
    value = env.get("WARREN_SANDBOX_NFT_TABLE", firewall.DEFAULT_TABLE)
    if not firewall.TABLE_RE.match(value):
        raise ConfigError(f"WARREN_SANDBOX_NFT_TABLE must be an nftables name, got {value!r}")
    return value


def _production(env: Mapping[str, str]) -> bool:
    value = env.get("WARREN_ENV", "development")
    if value not in ("development", "production"):
        raise ConfigError(f"WARREN_ENV must be 'development' or 'production', got {value!r}")
    return value == "production"


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read and validate every WARREN_* variable the agent uses."""
    env = os.environ if env is None else env
    webapps_port = _int(env, "WARREN_WEBAPPS_PORT", 8080, 1, 65535)
    https_port = _int(env, "WARREN_WEBAPPS_HTTPS_PORT", 8443, 1, 65535)
    if https_port == webapps_port:
        raise ConfigError("WARREN_WEBAPPS_HTTPS_PORT must differ from WARREN_WEBAPPS_PORT")
    address = _address(env)
    uid_base = _int(env, "WARREN_UID_BASE", 1_000_000, 1000, 2**31)
    homes_mounts = _fileserver_mounts(env)
    return Config(
        socket_path=_absolute_path(
            env, "WARREN_EXEC_AGENT_SOCKET", "/run/warren/execution-agent.sock"
        ),
        socket_gid=_socket_gid(env),
        allowed_uids=_allowed_uids(env),
        homes_root=_absolute_path(env, "WARREN_HOMES_ROOT", "/home"),
        www_root=_absolute_path(env, "WARREN_WWW_ROOT", "/var/www-warren"),
        uid_base=uid_base,
        uid_last=_int(env, "WARREN_UID_LAST", MAX_UID, uid_base, MAX_UID),
        cgroup_prefix=_cgroup_prefix(env),
        run_dir=_absolute_path(env, "WARREN_RUN_DIR", "/run/warren"),
        production=_production(env),
        cgroup_favor_dynmods=_bool(env, "WARREN_CGROUP_FAVOR_DYNMODS", False),
        web_dir=_absolute_path(env, "WARREN_WEB_DIR", "/var/lib/warren-web"),
        webapps_port=webapps_port,
        webapps_address=address,
        webapps_https_port=https_port,
        webapps_https_address=_address(env, "WARREN_WEBAPPS_HTTPS_ADDRESS", address),
        wildcard_certificate=_optional_path(env, "WARREN_WEBAPPS_WILDCARD_CERT"),
        wildcard_key=_optional_path(env, "WARREN_WEBAPPS_WILDCARD_KEY"),
        web_nproc=_int(env, "WARREN_WEB_NPROC", 512, 16, 1 << 22),
        web_worker_rss_mb=_int(env, "WARREN_WEB_WORKER_RSS_MB", 1024, 32, 1 << 20),
        sandbox_block=_sandbox_block(env),
        sandbox_allow=_sandbox_allow(env, webapps_port, https_port),
        nft_table=_nft_table(env),
        sandbox_bind_ports=_sandbox_bind_ports(env),
        landlock_optional=_bool(env, "WARREN_SANDBOX_LANDLOCK_OPTIONAL", False),
        console_client_processes=_bool(env, "WARREN_CONSOLE_CLIENT_PROCESSES", False),
        ssh_uids=_ssh_uids(env),
        metrics_address=_metrics_address(env),
        batteries_dir=_batteries_dir(env),
        fileserver_mounts=homes_mounts,
        fileserver_www_mounts=_fileserver_www_mounts(env, dict(homes_mounts)),
    )


def _fileserver_mounts(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    try:
        return tuple(home_mounts.parse_fileserver_mounts(env.get(home_mounts.VARIABLE)).items())
    except home_mounts.MountsError as error:
        raise ConfigError(str(error)) from None


def _fileserver_www_mounts(
    env: Mapping[str, str], homes: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    try:
        text = env.get(home_mounts.WWW_VARIABLE)
        return tuple(home_mounts.parse_fileserver_www_mounts(text, homes).items())
    except home_mounts.MountsError as error:
        raise ConfigError(str(error)) from None


def _batteries_dir(env: Mapping[str, str]) -> Path | None:
    if not env.get("WARREN_BATTERIES_DIR"):
        return None
    path = _absolute_path(env, "WARREN_BATTERIES_DIR", "")
    if not (path / "site-packages").is_dir():
        raise ConfigError(
            f"WARREN_BATTERIES_DIR={path}: no batteries there (site-packages missing); build "
            "them with bin/lib/common.sh's ensure_batteries, or unset it"
        )
    return path
