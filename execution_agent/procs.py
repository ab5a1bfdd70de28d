"""Host /proc reading and pid-reuse-safe signalling of one user's processes."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SIGNALS = {
    "TERM": signal.SIGTERM,
    "KILL": signal.SIGKILL,
    "INT": signal.SIGINT,
    "HUP": signal.SIGHUP,
}


def _boot_time() -> float:
    with open("/proc/stat") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


BOOT_TIME = _boot_time()


@dataclass
class ProcStatus:
    pid: int
    ppid: int
    real_uid: int
    state: str
    nspids: list[int]


def read_status(pid: int) -> ProcStatus | None:
    """The few fields of /proc/<pid>/status we need; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            text = handle.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    try:
        return ProcStatus(
            pid=pid,
            ppid=int(fields["PPid"]),
            real_uid=int(fields["Uid"].split()[0]),
            state=fields["State"][:1],
            nspids=[int(item) for item in fields.get("NSpid", str(pid)).split()],
        )
    except (KeyError, ValueError, IndexError):
        return None


def read_ppid(pid: int) -> int | None:
    """The parent pid from /proc/<pid>/stat (cheaper than status); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rpartition(b")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def user_pids(uid: int, candidates: Iterable[int] | None = None) -> list[ProcStatus]:
    """Every live (non-zombie) process whose real uid is uid, among candidates (default all)."""
    found = []
    for pid in all_pids() if candidates is None else candidates:
        status = read_status(pid)
        if status and status.real_uid == uid and status.state != "Z":
            found.append(status)
    return found


def read_tag(pid: int) -> tuple[str | None, str | None]:
    """WARREN_TAG_KIND / WARREN_TAG_ID from the process's initial environment."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read(1 << 18)  # can be huge; the agent puts the tag first
    except OSError:
        return None, None
    kind = tag_id = None
    for item in environ.split(b"\0"):
        if item.startswith(b"WARREN_TAG_KIND="):
            kind = item[16:].decode("utf-8", "replace")
        elif item.startswith(b"WARREN_TAG_ID="):
            tag_id = item[14:].decode("utf-8", "replace")
    return kind, tag_id


def exe_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def describe(status: ProcStatus) -> dict | None:
    """The Processes page's view of one process; None if it vanished meanwhile."""
    pid = status.pid
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat_fields = handle.read().rpartition(")")[2].split()
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
        with open(f"/proc/{pid}/statm") as handle:
            rss_pages = int(handle.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    # Fields after the command name: state=0 ppid=1 ... utime=11 stime=12 ... starttime=19
    utime, stime, start_ticks = int(stat_fields[11]), int(stat_fields[12]), int(stat_fields[19])
    kind, tag_id = read_tag(pid)
    return {
        "pid": pid,
        "ppid": status.ppid,
        "cmdline": [part.decode("utf-8", "replace") for part in cmdline.split(b"\0")[:-1]],
        "cpu_seconds": round((utime + stime) / CLOCK_TICKS, 2),
        "rss_bytes": rss_pages * PAGE_SIZE,
        "started_at": round(BOOT_TIME + start_ticks / CLOCK_TICKS, 2),
        "tag_kind": kind,
        "tag_id": tag_id,
    }


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pid_namespace(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def host_pid(ns_inode: int, ns_pid: int, statuses: list[ProcStatus]) -> int | None:
    """Translate a pid seen inside a sandbox's pid namespace to the host pid."""
    for status in statuses:
        in_namespace = len(status.nspids) > 1 and status.nspids[-1] == ns_pid
        if in_namespace and pid_namespace(status.pid) == ns_inode:
            return status.pid
    return None


@contextlib.contextmanager
def owned_pidfd(pid: int, uid: int):
    """A pidfd for pid, only if it is a live process of uid (checked after pinning the pid)."""
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        yield None
        return
    try:
        status = read_status(pid)
        # The pidfd pins the process: if uid still matches now, signals reach this very process.
        yield fd if status and status.real_uid == uid and status.state != "Z" else None
    finally:
        os.close(fd)


def send(pidfd: int, signum: int) -> bool:
    try:
        signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        return False
    return True


def terminate_later(pidfds: list[int], grace: float, rescan=None) -> None:
    """SIGKILL whatever is still alive after grace seconds, then close the pidfds."""

    def finish() -> None:
        time.sleep(grace)
        try:
            for fd in pidfds:
                send(fd, signal.SIGKILL)
            if rescan is not None:
                rescan()
        finally:
            for fd in pidfds:
                os.close(fd)

    threading.Thread(target=finish, name="terminate-later", daemon=True).start()
