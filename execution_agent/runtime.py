"""The agent's live state, built once at start-up and handed to every operation."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from execution_agent import cgroups as cgroups_module
from execution_agent import creds, firewall, landlock, procs
from execution_agent.always_on import AlwaysOn
from execution_agent.cgroups import Cgroups
from execution_agent.config import Config
from execution_agent.reaper import Reaper
from execution_agent.sandbox import Sandbox
from execution_agent.tasks import TaskRunner
from execution_agent.tmux import Tmux
from execution_agent.web.layout import WEB_CGROUP
from execution_agent.web.memory_guard import WorkerMemoryGuard
from execution_agent.web.server import WebServer

log = logging.getLogger("execution_agent")
TIOCSTI_SYSCTL = Path("/proc/sys/dev/tty/legacy_tiocsti")


@dataclass
class Agent:
    config: Config
    root: bool
    sandbox: Sandbox
    cgroups: Cgroups
    cgroups_active: bool
    reaper: Reaper
    warnings: list[str] = field(default_factory=list)
    # Made once per process: Django tells a restarted agent (whose binds may be gone with its
    # mount namespace) from one that has been up all along by this changing (op info).
    started: str = field(default_factory=lambda: secrets.token_hex(16))
    # Both drive the agent's other parts, so they are made from it once it exists.
    tmux: Tmux = field(init=False)
    web: WebServer = field(init=False)
    tasks: TaskRunner = field(init=False)
    always_on: AlwaysOn = field(init=False)

    def __post_init__(self) -> None:
        self.tmux = Tmux(self)
        self.web = WebServer(self)
        self.tasks = TaskRunner(self)
        self.always_on = AlwaysOn(self)

    @property
    def cgroups_version(self) -> str:
        return self.cgroups.version if self.cgroups_active else "none"

    @property
    def sandboxed(self) -> bool:
        return self.sandbox.bwrap is not None

    def user_processes(self, user) -> list[procs.ProcStatus]:
        """The user's live processes: looked up in their cgroup when there is one (every
        sandboxed process is in it from its first instruction), else by scanning /proc."""
        candidates = self.cgroups.pids(user.username) if self.cgroups_active else None
        return procs.user_pids(user.uid, candidates)


class StartupError(Exception):
    """The agent must not start (production without root, bwrap or cgroups)."""


def _bwrap_usable(bwrap: str | None) -> bool:
    if bwrap is None:
        return False
    probe = [
        bwrap,
        "--unshare-user",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--",
        "/usr/bin/true",
    ]
    # As root, bwrap must be probed as the unprivileged user it will run as.
    kwargs = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
    try:
        result = subprocess.run(probe, capture_output=True, timeout=10, cwd="/", **kwargs)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _install_firewall(config: Config, warnings: list[str]) -> None:
    """Reject sandboxed users' connections to Warren's own services (the broker, databases)."""
    if not config.sandbox_block:
        log.info("firewall: WARREN_SANDBOX_BLOCK is empty; sandboxes reach every address")
        return
    try:
        firewall.install(
            table=config.nft_table,
            uid_base=config.uid_base,
            blocked=config.sandbox_block,
            allowed=config.sandbox_allow,
            uid_last=config.uid_last,
        )
    except firewall.FirewallError as exc:
        warnings.append(f"firewall not installed ({exc}): sandboxes can reach Warren's services")
        return
    log.info(
        "firewall: table inet %s blocks %d destinations, allows %d",
        config.nft_table,
        len(config.sandbox_block),
        len(config.sandbox_allow),
    )


def _bind_ruleset(config: Config, warnings: list[str]) -> landlock.BindRuleset | None:
    """The Landlock ruleset every launch applies, so user code cannot listen on Warren's ports."""
    try:
        ruleset, warning = landlock.ruleset_for(
            config.sandbox_bind_ports,
            production=config.production,
            optional=config.landlock_optional,
        )
    except landlock.LandlockError as exc:
        raise StartupError(f"WARREN_ENV=production refuses to start: {exc}") from None
    if warning is not None:
        warnings.append(warning)
    return ruleset


def _harden_tiocsti(warnings: list[str]) -> None:
    """Defence in depth beside the seccomp filter: the kernel-wide TIOCSTI switch."""
    try:
        if TIOCSTI_SYSCTL.read_text().strip() != "0":
            TIOCSTI_SYSCTL.write_text("0\n")
            log.info("set dev.tty.legacy_tiocsti=0")
    except FileNotFoundError:
        pass  # kernels before 6.2 have no switch; the seccomp filter still blocks TIOCSTI
    except OSError as exc:
        warnings.append(f"could not set dev.tty.legacy_tiocsti=0: {exc.strerror}")


def _prepare_run_dir(config: Config, root: bool) -> None:
    config.run_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    if root:
        # Users must traverse these to reach their own entries (bwrap binds as the user), but
        # must not list them.
        os.chmod(config.run_dir, 0o755)  # noqa: S103 - traversed by users' bwrap
        for name in ("tmp", "tmux", "etc"):
            path = config.run_dir / name
            path.mkdir(mode=0o711, exist_ok=True)
            os.chmod(path, 0o711)  # noqa: S103 - traverse-only, no listing


def build_agent(config: Config) -> Agent:
    """Probe the machine, apply the production rules, and assemble the agent."""
    root = os.geteuid() == 0
    warnings: list[str] = []
    bwrap = shutil.which("bwrap")
    if not _bwrap_usable(bwrap):
        bwrap = None
    cgroups = cgroups_module.detect(config.cgroup_prefix)
    cgroups_active = root and cgroups_module.usable(cgroups)
    if not root:
        warnings.append("not running as root: user processes run as the agent's own uid")
    if bwrap is None:
        warnings.append("bubblewrap unusable: user processes run WITHOUT a sandbox")
    if not cgroups_active:
        warnings.append("cgroups unusable: no memory, pids or CPU limits or accounting")
    if root and not creds.supported():
        warnings.append("per-thread credentials unsupported on this architecture")
    if root:
        _install_firewall(config, warnings)
    if config.production and warnings:
        raise StartupError("WARREN_ENV=production refuses to start: " + "; ".join(warnings))
    bind_ruleset = _bind_ruleset(config, warnings)
    if root:
        _harden_tiocsti(warnings)
    _prepare_run_dir(config, root)
    if config.cgroup_favor_dynmods and cgroups_active:
        try:
            cgroups_module.favor_dynamic_modifications(cgroups, config.run_dir)
            log.info("cgroups: favordynmods on (cheap migrations, slightly slower fork/exit)")
        except OSError as exc:
            warnings.append(f"WARREN_CGROUP_FAVOR_DYNMODS: {exc.strerror}")
    if root:
        # Web app workers' memory limit, per process: checked off the request path.
        WorkerMemoryGuard(
            uid_base=config.uid_base,
            limit_bytes=config.web_worker_rss_mb << 20,
            web_cgroup=f"{config.cgroup_prefix}/{WEB_CGROUP}",
        ).start()
    setsid = shutil.which("setsid") or "/usr/bin/setsid"
    sandbox = Sandbox(
        config,
        cgroups,
        root=root,
        bwrap=bwrap,
        setsid=setsid,
        cgroups_active=cgroups_active,
        bind_ruleset=bind_ruleset,
    )
    return Agent(
        config=config,
        root=root,
        sandbox=sandbox,
        cgroups=cgroups,
        cgroups_active=cgroups_active,
        reaper=Reaper(),
        warnings=warnings,
    )
