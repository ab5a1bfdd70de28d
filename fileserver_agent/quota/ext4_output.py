"""Parsers for what Debian's quota tools (quota 4.x) print.

Both tools print space in KiB ("blocks" for historical reasons). We call them with ``-p``
so grace columns are Unix seconds ("0" when no grace is running) and every column is
present. The repquota parser also reads the default human form, where a grace column is
blank unless a soft limit is reached, because that is what an operator pastes into a bug
report and what older scripts feed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REPORT_RE = re.compile(r"^\*\*\* Report for (\w+) quotas on device (\S+)")
_GRACE_RE = re.compile(r"^Block grace time: (\S+); Inode grace time: (\S+)")


class QuotaOutputError(ValueError):
    """A tool's output did not have the shape its source code prints."""


@dataclass(frozen=True)
class QuotaLine:
    """One user's numbers on one filesystem, in KiB."""

    used_kib: int
    soft_kib: int
    hard_kib: int
    files: int


@dataclass(frozen=True)
class Repquota:
    """A parsed ``repquota -u -n`` report for one filesystem."""

    device: str
    block_grace: str
    users: dict[int, QuotaLine]


def parse_quota(text: str, mount_point: str) -> QuotaLine:
    """Return the line for ``mount_point`` from ``quota -v -w --show-mntpoint --hide-device``.

    The data line is ``%15s`` mount point, then `` %7s%c %6s %7s %7s`` for blocks, an
    over-limit ``*``, quota, limit and grace, then the same five for files.
    """
    for line in text.splitlines():
        if not line.strip() or line.startswith("Disk quotas for "):
            continue
        fields = line.split()
        if fields[0] == "Filesystem":
            continue
        if len(fields) < 9:
            raise QuotaOutputError(f"quota printed an unexpected line: {line.strip()!r}")
        if " ".join(fields[:-8]) != mount_point:
            continue
        blocks, block_soft, block_hard, _grace, files = fields[-8:-3]
        return QuotaLine(
            used_kib=_number(blocks.rstrip("*"), line),
            soft_kib=_number(block_soft, line),
            hard_kib=_number(block_hard, line),
            files=_number(files.rstrip("*"), line),
        )
    raise QuotaOutputError(f"quota printed no line for {mount_point}")


def parse_repquota(text: str) -> Repquota:
    """Parse ``repquota -u -n [-p]`` for one filesystem.

    Each user line is ``%-9s %c%c %7s %7s %7s %6s`` then `` %7s %5s %5s %6s``: name (``#uid``
    with -n; longer names push the columns right), the two over-limit flags, blocks
    used/soft/hard/grace, then files used/soft/hard/grace.
    """
    device = block_grace = None
    users: dict[int, QuotaLine] = {}
    in_table = False
    for line in text.splitlines():
        if match := _REPORT_RE.match(line):
            device = match.group(2)
        elif match := _GRACE_RE.match(line):
            block_grace = match.group(1)
        elif line.startswith("-----"):
            in_table = True
        elif in_table and line.strip():
            uid, entry = _repquota_line(line)
            users[uid] = entry
        elif in_table:
            in_table = False
    if device is None or block_grace is None:
        raise QuotaOutputError("repquota printed no report header")
    return Repquota(device=device, block_grace=block_grace, users=users)


def _repquota_line(line: str) -> tuple[int, QuotaLine]:
    fields = line.split()
    if len(fields) < 8 or not fields[0].startswith("#"):
        raise QuotaOutputError(f"repquota printed an unexpected line: {line.strip()!r}")
    name, _flags, used, soft, hard, *rest = fields
    # Without -p a grace column is printed empty unless a soft limit is reached, and a
    # human grace ("6days", "13:42", "none") is never all digits: that tells whether the
    # field after the block limits is the block grace or the file count.
    if len(rest) == 5 or (len(rest) == 4 and not rest[0].isdigit()):
        rest = rest[1:]
    files = rest[0]
    return _number(name[1:], line), QuotaLine(
        used_kib=_number(used, line),
        soft_kib=_number(soft, line),
        hard_kib=_number(hard, line),
        files=_number(files, line),
    )


def _number(text: str, line: str) -> int:
    if not text.isdigit():
        raise QuotaOutputError(f"expected a number, got {text!r} in {line.strip()!r}")
    return int(text)
