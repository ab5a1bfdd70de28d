"""`python -m execution_agent.teardown`: undo what the agent installed on the machine.

bin/run calls it when the embedded default stops (Ctrl-C) and before ``--reset``: users'
processes in Warren's cgroups are killed, the cgroups removed, the users' /tmp mounts under
the run dir unmounted and the nftables table dropped. Production agents (systemd) keep all
of it across restarts and never call this.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from execution_agent import cgroups as cgroups_module
from execution_agent import firewall
from execution_agent.config import ConfigError, load_config
from execution_agent.procs import read_status


def kill_users(cgroups, uid_base: int) -> int:
    """SIGKILL every process of a Warren user (uid from uid_base) in each user's group."""
    killed = 0
    for username in cgroups.user_groups():
        uids = {status.real_uid for pid in cgroups.pids(username) if (status := read_status(pid))}
        for uid in sorted(uid for uid in uids if uid >= uid_base):
            killed += len(cgroups.kill_all(username, uid))
    return killed


def remove_cgroups(prefix: str) -> None:
    """rmdir <hierarchy>/<prefix>/* and <prefix> in every cgroup hierarchy, deepest first."""
    roots = [
        Path(line.split()[4])
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if " - cgroup" in line
    ]
    for root in roots:
        top = root / prefix
        if not top.is_dir():
            continue
        for _ in range(40):
            for dirpath, dirnames, _ in os.walk(top, topdown=False):
                for name in dirnames:
                    with contextlib.suppress(OSError):
                        os.rmdir(Path(dirpath) / name)
            with contextlib.suppress(OSError):
                os.rmdir(top)
            if not top.exists():
                break
            time.sleep(0.05)


def unmount_beneath(base: Path) -> None:
    """Lazily unmount every mount at or beneath base, deepest first."""
    mountpoints = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mountpoint = line.split()[4].replace("\\040", " ")
        if mountpoint == str(base) or mountpoint.startswith(f"{base}/"):
            mountpoints.append(mountpoint)
    for mountpoint in sorted(mountpoints, key=len, reverse=True):
        subprocess.run(["umount", "-l", mountpoint], capture_output=True, check=False)


def main() -> int:
    """Tear down this configuration's firewall table, cgroups and mounts; 0 when done."""
    try:
        config = load_config()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        return 0  # without root the agent installed none of these
    cgroups = cgroups_module.detect(config.cgroup_prefix)
    killed = kill_users(cgroups, config.uid_base)
    remove_cgroups(config.cgroup_prefix)
    unmount_beneath(config.run_dir / "tmp")
    with contextlib.suppress(firewall.FirewallError):
        firewall.remove(config.nft_table)
    print(f"teardown: {killed} user processes ended, table inet {config.nft_table} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
