"""Kernel user quotas on ext4 through Debian's quota tools (``setquota``, ``quota``, ``repquota``).

The seed's reason for ext4: its user quotas survive a hard reboot (a couple of minutes of
quotacheck), where XFS project quotas came back disabled and would not re-enable. Users
are separate Unix uids, so plain user quotas are all Warren needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fileserver_agent.commands import CommandFailed, check_command, find_tool, run_command
from fileserver_agent.config import ConfigError
from fileserver_agent.quota import PlainDirectoryHomes, QuotaLimits, Usage, filesystem_size
from fileserver_agent.quota.ext4_output import QuotaOutputError, parse_quota, parse_repquota

KIB = 1024
TOOLS = ("setquota", "quota", "repquota")


def bytes_to_kib(value: int) -> int:
    """Round a byte limit up to setquota's 1 KiB unit, so a non-zero limit never becomes 0."""
    return -(-value // KIB)


def setquota_command(setquota: str, limits: QuotaLimits, filesystem: str) -> list[str]:
    """One user's limits; a numeric name is read as a uid. Inode limits are left at 0 (none)."""
    return [
        setquota,
        "-u",
        str(limits.uid),
        str(bytes_to_kib(limits.soft_bytes)),
        str(bytes_to_kib(limits.hard_bytes)),
        "0",
        "0",
        filesystem,
    ]


def setquota_batch_command(setquota: str, filesystem: str) -> list[str]:
    """Many users' limits, read from stdin by one process (one quota-file transaction each)."""
    return [setquota, "-u", "-b", filesystem]


def setquota_batch_input(batch: Sequence[QuotaLimits]) -> bytes:
    """Lines of ``name block-soft block-hard inode-soft inode-hard`` for ``setquota -b``."""
    lines = (
        f"{item.uid} {bytes_to_kib(item.soft_bytes)} {bytes_to_kib(item.hard_bytes)} 0 0\n"
        for item in batch
    )
    return "".join(lines).encode()


def quota_command(quota: str, uid: int, filesystem: str) -> list[str]:
    """One user's usage on one filesystem, in a stable, unwrapped, parseable layout."""
    return [
        quota,
        "-u",
        "-v",
        "-w",
        "-p",
        "--show-mntpoint",
        "--hide-device",
        f"--filesystem={filesystem}",
        str(uid),
    ]


def repquota_command(repquota: str, filesystem: str) -> list[str]:
    """Every user on one filesystem, by number (no passwd lookups: Warren has no passwd entries)."""
    return [repquota, "-u", "-n", "-p", filesystem]


class Ext4QuotaBackend(PlainDirectoryHomes):
    """Applies limits with setquota and reads usage with quota; the kernel enforces them."""

    name = "ext4"

    def __init__(self, *, filesystem: Path, tools_path: str, timeout: float) -> None:
        self.filesystem = str(filesystem)
        self.timeout = timeout
        self.tools = {tool: _require_tool(tool, tools_path) for tool in TOOLS}

    def set_quota(self, limits: QuotaLimits) -> QuotaLimits:
        """Apply one user's limits with ``setquota -u``."""
        argv = setquota_command(self.tools["setquota"], limits, self.filesystem)
        check_command(argv, timeout=self.timeout)
        return _as_applied(limits)

    def set_quotas(self, batch: list[QuotaLimits]) -> int:
        """Apply many users' limits with one ``setquota -u -b`` fed on stdin."""
        if not batch:
            return 0
        argv = setquota_batch_command(self.tools["setquota"], self.filesystem)
        check_command(argv, stdin=setquota_batch_input(batch), timeout=self.timeout)
        return len(batch)

    def usage(self, uid: int) -> Usage:
        """Read the kernel's usage and limits for ``uid`` with ``quota``."""
        argv = quota_command(self.tools["quota"], uid, self.filesystem)
        # quota exits 1 when the user is over a limit, so success is "printed our line".
        result = run_command(argv, timeout=self.timeout)
        stdout = result.stdout.decode(errors="replace")
        try:
            line = parse_quota(stdout, self.filesystem)
        except QuotaOutputError as exc:
            stderr = result.stderr.decode(errors="replace") or stdout
            raise CommandFailed(argv, f"exited {result.returncode} ({exc})", stderr) from None
        return Usage(
            used_bytes=line.used_kib * KIB,
            soft_bytes=line.soft_kib * KIB,
            hard_bytes=line.hard_kib * KIB,
            backend=self.name,
        )

    def capacity_bytes(self) -> int:
        """The size of the quota filesystem."""
        return filesystem_size(self.filesystem)

    def check(self) -> dict[str, object]:
        """Prove quotas are on with ``repquota`` (after an unclean reboot they may not be)."""
        argv = repquota_command(self.tools["repquota"], self.filesystem)
        result = check_command(argv, timeout=self.timeout)
        try:
            report = parse_repquota(result.stdout.decode(errors="replace"))
        except QuotaOutputError as exc:
            raise CommandFailed(argv, f"printed something unexpected ({exc})") from None
        return {
            "filesystem": self.filesystem,
            "device": report.device,
            "users_with_usage": len(report.users),
            "block_grace": report.block_grace,
        }


def _require_tool(tool: str, tools_path: str) -> str:
    path = find_tool(tool, tools_path)
    if path is None:
        raise ConfigError(
            f"WARREN_QUOTA_TOOLS_PATH={tools_path}: {tool} not found "
            "(the ext4 backend needs Debian's quota tools: apt-get install quota)"
        )
    return path


def _as_applied(limits: QuotaLimits) -> QuotaLimits:
    return QuotaLimits(
        uid=limits.uid,
        soft_bytes=bytes_to_kib(limits.soft_bytes) * KIB,
        hard_bytes=bytes_to_kib(limits.hard_bytes) * KIB,
    )
