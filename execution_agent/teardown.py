"""`python -m execution_agent.teardown`: undo what the agent installed on the machine.

bin/run calls it when the embedded default stops (Ctrl-C) and before ``--reset``: users'
processes in Warren's cgroups are killed, the cgroups removed, the users' /tmp mounts under
the run dir unmounted and the nftables table dropped. Production agents (systemd) keep all
of it across restarts and never call this.
"""

from __future__ import annotations

import contextlib
import os
import sys

from execution_agent import cgroups as cgroups_module
from execution_agent import firewall
from execution_agent.config import ConfigError, load_config
from execution_agent.harness import remove_cgroups, unmount_beneath
from execution_agent.procs import read_status


def kill_users(cgroups, uid_base: int) -> int:
    """SIGKILL every process of a Warren user (uid from uid_base) in each user's group."""
    killed = 0
    for username in cgroups.user_groups():
        uids = {status.real_uid for pid in cgroups.pids(username) if (status := read_status(pid))}
        for uid in sorted(uid for uid in uids if uid >= uid_base):
            killed += len(cgroups.kill_all(username, uid))
    return killed


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
