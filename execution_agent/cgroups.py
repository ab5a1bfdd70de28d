"""Per-user cgroups `<prefix>/<username>`: v1 (cpu, cpuacct, memory, pids hierarchies) or v2.

Detected at run time: v2 when /sys/fs/cgroup is a pure unified hierarchy, v1 when the v1
controllers are mounted, otherwise none. Both classes take their root(s) as arguments so the
v2 code can be exercised against a fake tree that uses the kernel's file formats.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import time
from pathlib import Path

from execution_agent import procs
from execution_agent.validation import DEFAULT_MEMORY_BYTES, DEFAULT_PIDS_MAX

log = logging.getLogger("execution_agent")

_libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT = 0x20
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
V2_CONTROLLERS = ("cpu", "memory", "pids")


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares to v2 cpu.weight, keeping the ratios between users.

    Users' groups are siblings under the prefix, so only their ratios matter: halving keeps
    the tarpit's 2 : 300 : 700 as 1 : 150 : 350. runc's mapping (1 + (s - 2) * 9999 / 262142)
    would squeeze it to 1 : 12 : 27, a tarpit a tenth as strong as on v1.
    """
    return min(10_000, max(1, round(shares / 2)))


def _write(path: Path, value: str) -> None:
    # O_CREAT|O_TRUNC only matter for the fake v2 tree in tests; cgroupfs ignores them, like
    # a shell redirection.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _write_pids(path: Path, pids: list[int]) -> None:
    # cgroup.procs takes one pid per write(2).
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        for pid in pids:
            os.write(fd, f"{pid}\n".encode())
    finally:
        os.close(fd)


def _read(path: Path) -> str:
    with open(path) as handle:
        return handle.read()


def _read_procs(path: Path) -> list[int]:
    try:
        return [int(line) for line in _read(path).split()]
    except FileNotFoundError:
        return []


def _rmdir_quietly(path: Path) -> None:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise


def _rmdir_run_group(path: Path) -> None:
    # Its last processes may still be exiting for a moment after the sandbox was reaped.
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            time.sleep(0.02)
    log.warning("run group %s still busy; left in place", path)


class NoCgroups:
    """No usable cgroups (development without root): every call is a no-op."""

    version = "none"

    def ensure_user(self, username: str, memory_bytes: int | None, pids_max: int | None) -> bool:
        return False

    def add_pids(self, username: str, pids: list[int]) -> None:
        pass

    def pids_exhausted(self, username: str) -> bool:
        return False

    def pids(self, username: str) -> list[int] | None:
        return None

    def cpu_usage(self) -> dict[str, int]:
        return {}

    def set_cpu_shares(self, username: str, shares: int) -> None:
        pass

    def cpu_shares(self, username: str) -> int | None:
        return None

    def remove_user(self, username: str) -> None:
        pass

    def kill_all(self, username: str, uid: int, timeout: float = 10.0) -> list[int]:
        return []

    def user_groups(self) -> list[str]:
        return []

    def run_group_join(self, username: str, name: str, pids: list[int]) -> None:
        pass

    def run_group_usage_usec(self, username: str, name: str) -> int | None:
        return None

    def run_group_remove(self, username: str, name: str) -> None:
        pass


class CgroupsV1:
    """Legacy hierarchies, one mount per controller (or co-mounted, e.g. cpu,cpuacct)."""

    version = "v1"

    def __init__(self, mounts: dict[str, Path], prefix: str) -> None:
        self.mounts = mounts
        self.prefix = prefix

    def _dir(self, controller: str, username: str = "") -> Path:
        path = self.mounts[controller] / self.prefix
        return path / username if username else path

    def _hierarchies(self) -> list[Path]:
        return sorted(set(self.mounts.values()))

    def ensure_user(self, username: str, memory_bytes: int | None, pids_max: int | None) -> bool:
        """Create the user's groups; set limits (None: keep them, or defaults for a new group).

        Returns whether the groups were new.
        """
        new = not self._dir("pids", username).is_dir()
        for root in self._hierarchies():
            (root / self.prefix / username).mkdir(parents=True, exist_ok=True)
        if memory_bytes is None and not new:
            return new
        memory_bytes = memory_bytes or DEFAULT_MEMORY_BYTES
        pids_max = pids_max or DEFAULT_PIDS_MAX
        memory = self._dir("memory", username)
        try:
            _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        except OSError as exc:
            # EBUSY: the group already uses more than the new limit; keep the old one.
            if exc.errno != errno.EBUSY:
                raise
            log.warning("memory limit for %s not lowered: usage is above it", username)
        _write(self._dir("pids", username) / "pids.max", str(pids_max))
        return new

    def pids(self, username: str) -> list[int]:
        """Every process in the user's group (as host pids)."""
        return _read_procs(self._dir("pids", username) / "cgroup.procs")

    def add_pids(self, username: str, pids: list[int]) -> None:
        for root in self._hierarchies():
            _write_pids(root / self.prefix / username / "cgroup.procs", pids)

    def pids_exhausted(self, username: str) -> bool:
        path = self._dir("pids", username)
        try:
            current = int(_read(path / "pids.current"))
            maximum = _read(path / "pids.max").strip()
        except FileNotFoundError:
            return False
        return maximum != "max" and current >= int(maximum)

    def cpu_usage(self) -> dict[str, int]:
        usage = {}
        base = self._dir("cpuacct")
        if not base.is_dir():
            return usage
        for entry in os.scandir(base):
            if entry.is_dir(follow_symlinks=False):
                try:
                    nanoseconds = int(_read(Path(entry.path) / "cpuacct.usage"))
                except (FileNotFoundError, ValueError):
                    continue
                usage[entry.name] = nanoseconds // 1000
        return usage

    def set_cpu_shares(self, username: str, shares: int) -> None:
        path = self._dir("cpu", username)
        path.mkdir(parents=True, exist_ok=True)
        _write(path / "cpu.shares", str(shares))

    def cpu_shares(self, username: str) -> int | None:
        """The group's weight now (None if it has no group)."""
        try:
            return int(_read(self._dir("cpu", username) / "cpu.shares"))
        except (FileNotFoundError, ValueError):
            return None

    def remove_user(self, username: str) -> None:
        for root in self._hierarchies():
            _rmdir_quietly(root / self.prefix / username)

    def user_groups(self) -> list[str]:
        """The users that have a group under the prefix."""
        return _subdirectories(self._dir("pids"))

    # A run group: a child of the user's group in the CPU-accounting hierarchy only, so one
    # scheduled run's CPU can be read on its own (pids and memory stay the user's group's,
    # where the process list and the limits look).
    def run_group_join(self, username: str, name: str, pids: list[int]) -> None:
        path = self._dir("cpuacct", username) / name
        path.mkdir(exist_ok=True)
        _write_pids(path / "cgroup.procs", pids)

    def run_group_usage_usec(self, username: str, name: str) -> int | None:
        try:
            return int(_read(self._dir("cpuacct", username) / name / "cpuacct.usage")) // 1000
        except (FileNotFoundError, ValueError):
            return None

    def run_group_remove(self, username: str, name: str) -> None:
        _rmdir_run_group(self._dir("cpuacct", username) / name)

    def kill_all(self, username: str, uid: int, timeout: float = 10.0) -> list[int]:
        """SIGKILL every process in the user's group until it is empty; return their pids.

        Warren's groups are not in the v1 freezer hierarchy; pids.max at 0 stops every fork
        in the group just as well while the sweep runs, so nothing escapes it.
        """
        pids_dir = self._dir("pids", username)
        try:
            saved = _read(pids_dir / "pids.max").strip()
        except FileNotFoundError:
            return []
        _write(pids_dir / "pids.max", "0")
        try:
            return _sweep(lambda: self.pids(username), uid, timeout)
        finally:
            _write(pids_dir / "pids.max", saved)


class CgroupsV2:
    """The unified hierarchy: enable cpu, memory and pids down to the prefix."""

    version = "v2"

    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self._enabled = False

    def _dir(self, username: str = "") -> Path:
        path = self.root / self.prefix
        return path / username if username else path

    def _enable_controllers(self) -> None:
        available = set(_read(self.root / "cgroup.controllers").split())
        missing = [name for name in V2_CONTROLLERS if name not in available]
        if missing:
            raise OSError(errno.ENOTSUP, f"cgroup v2 controllers unavailable: {missing}")
        wanted = " ".join(f"+{name}" for name in V2_CONTROLLERS)
        # Every level from the root down to the prefix must delegate the controllers.
        level = self.root
        for part in self.prefix.split("/"):
            _write(level / "cgroup.subtree_control", wanted)
            level = level / part
            level.mkdir(exist_ok=True)
        _write(level / "cgroup.subtree_control", wanted)
        self._enabled = True

    def ensure_user(self, username: str, memory_bytes: int | None, pids_max: int | None) -> bool:
        if not self._enabled:
            self._enable_controllers()
        path = self._dir(username)
        new = not path.is_dir()
        path.mkdir(exist_ok=True)
        if memory_bytes is None and not new:
            return new
        memory_bytes = memory_bytes or DEFAULT_MEMORY_BYTES
        pids_max = pids_max or DEFAULT_PIDS_MAX
        _write(path / "memory.max", str(memory_bytes))
        _write(path / "pids.max", str(pids_max))
        return new

    def add_pids(self, username: str, pids: list[int]) -> None:
        _write_pids(self._dir(username) / "cgroup.procs", pids)

    def pids(self, username: str) -> list[int]:
        """Every process in the user's group and its run groups (as host pids)."""
        path = self._dir(username)
        found = _read_procs(path / "cgroup.procs")
        for child in _subdirectories(path):
            found += _read_procs(path / child / "cgroup.procs")
        return found

    def pids_exhausted(self, username: str) -> bool:
        path = self._dir(username)
        try:
            current = int(_read(path / "pids.current"))
            maximum = _read(path / "pids.max").strip()
        except FileNotFoundError:
            return False
        return maximum != "max" and current >= int(maximum)

    def cpu_usage(self) -> dict[str, int]:
        usage = {}
        base = self._dir()
        if not base.is_dir():
            return usage
        for entry in os.scandir(base):
            if not entry.is_dir(follow_symlinks=False):
                continue
            try:
                stat_text = _read(Path(entry.path) / "cpu.stat")
            except FileNotFoundError:
                continue
            for line in stat_text.splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    usage[entry.name] = int(value)
        return usage

    def set_cpu_shares(self, username: str, shares: int) -> None:
        if not self._enabled:
            self._enable_controllers()
        path = self._dir(username)
        path.mkdir(exist_ok=True)
        _write(path / "cpu.weight", str(shares_to_weight(shares)))

    def cpu_shares(self, username: str) -> int | None:
        """The group's weight now, as v1 shares (exact for the weights Warren sets)."""
        try:
            return int(_read(self._dir(username) / "cpu.weight")) * 2
        except (FileNotFoundError, ValueError):
            return None

    def remove_user(self, username: str) -> None:
        _rmdir_quietly(self._dir(username))

    def user_groups(self) -> list[str]:
        """The users that have a group under the prefix."""
        return _subdirectories(self._dir())

    # A run group: a child of the user's group with no controllers of its own (so the
    # user's group may keep its own processes), under the user's limits, with its own
    # cpu.stat; pids() counts its processes as the user's.
    def run_group_join(self, username: str, name: str, pids: list[int]) -> None:
        path = self._dir(username) / name
        path.mkdir(exist_ok=True)
        _write_pids(path / "cgroup.procs", pids)

    def run_group_usage_usec(self, username: str, name: str) -> int | None:
        try:
            text = _read(self._dir(username) / name / "cpu.stat")
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value)
        return None

    def run_group_remove(self, username: str, name: str) -> None:
        _rmdir_run_group(self._dir(username) / name)

    def kill_all(self, username: str, uid: int, timeout: float = 10.0) -> list[int]:
        """Kill every process in the user's group (``cgroup.kill``, Linux 5.14); return their
        pids once the group is empty. The kernel kills them all at once, forks included."""
        path = self._dir(username)
        try:
            victims = self.pids(username)
        except FileNotFoundError:
            return []
        if (path / "cgroup.kill").exists():
            _write(path / "cgroup.kill", "1")
            return sorted(set(victims) | set(_sweep(lambda: self.pids(username), uid, timeout)))
        # Older kernels: pids.max at 0 stops forks while the sweep kills one by one.
        saved = _read(path / "pids.max").strip()
        _write(path / "pids.max", "0")
        try:
            return _sweep(lambda: self.pids(username), uid, timeout)
        finally:
            _write(path / "pids.max", saved)


Cgroups = NoCgroups | CgroupsV1 | CgroupsV2
"""Whichever backend `detect` found: the agent holds one for users' groups."""


def _subdirectories(path: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def _sweep(list_pids, uid: int, timeout: float) -> list[int]:
    """SIGKILL what list_pids() returns (processes of uid only) until it returns nothing.

    A process stopped by ptrace, or a pid namespace's init stopped by its own user, dies of
    SIGKILL all the same; zombies leave the group once their reaper (that init) is gone.
    """
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while True:
        try:
            remaining = list_pids()
        except FileNotFoundError:
            break
        if not remaining:
            break
        for pid in remaining:
            with procs.owned_pidfd(pid, uid) as pidfd:
                if pidfd is not None and procs.send(pidfd, signal.SIGKILL):
                    killed.add(pid)
        if time.monotonic() > deadline:
            log.warning("cgroup kill: %d processes of uid %d survived", len(remaining), uid)
            break
        time.sleep(0.01)
    return sorted(killed)


def _v1_mounts(mountinfo: str) -> dict[str, Path]:
    mounts: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line:
            continue
        separator = fields.index("-")
        fstype, super_options = fields[separator + 1], fields[separator + 3]
        if fstype != "cgroup":
            continue
        for option in super_options.split(","):
            if option in V1_CONTROLLERS and option not in mounts:
                mounts[option] = Path(fields[4])
    return mounts


def detect(prefix: str, root: Path = Path("/sys/fs/cgroup")) -> NoCgroups | CgroupsV1 | CgroupsV2:
    """Pick the backend for this machine (v2 only on a pure unified hierarchy)."""
    if (root / "cgroup.controllers").exists():
        return CgroupsV2(root, prefix)
    try:
        mounts = _v1_mounts(_read(Path("/proc/self/mountinfo")))
    except OSError:
        mounts = {}
    if all(name in mounts for name in V1_CONTROLLERS):
        return CgroupsV1(mounts, prefix)
    return NoCgroups()


def favor_dynamic_modifications(backend, run_dir: Path) -> None:
    """Make cgroup migrations cheap, machine-wide (the kernel's favordynmods option).

    Moving a process between cgroups takes cgroup_threadgroup_rwsem for writing; with the
    default per-cpu rwsem that waits for an RCU grace period whenever the lock was idle,
    measured here at 3-16 ms for the first cgroup.procs write of a spawn. favordynmods trades
    that for a slightly slower fork/exit everywhere. The rwsem is global, so on v1 mounting a
    tiny named hierarchy with the option is enough (existing v1 mounts cannot be remounted
    with it); on v2 the root is remounted.
    """
    if isinstance(backend, CgroupsV2):
        _mount(b"none", bytes(backend.root), b"cgroup2", MS_REMOUNT, b"favordynmods")
        return
    target = run_dir / "cgroup-favordynmods"
    target.mkdir(mode=0o700, exist_ok=True)
    if os.stat(target).st_dev == os.stat(run_dir).st_dev:
        _mount(
            b"cgroup", bytes(target), b"cgroup", 0, b"none,name=warren-favordynmods,favordynmods"
        )


def _mount(source: bytes, target: bytes, fstype: bytes, flags: int, data: bytes) -> None:
    if _libc.mount(source, target, fstype, flags, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), os.fsdecode(target))


def usable(backend: NoCgroups | CgroupsV1 | CgroupsV2) -> bool:
    """Whether this process may create groups under the prefix (root, writable cgroupfs)."""
    if isinstance(backend, NoCgroups):
        return False
    probe_root = backend.root if isinstance(backend, CgroupsV2) else backend.mounts["pids"]
    return os.access(probe_root, os.W_OK)


def procs_files(backend: NoCgroups | CgroupsV1 | CgroupsV2, username: str) -> list[Path]:
    """The cgroup.procs file(s) a process writes its pid to, to join the user's group(s)."""
    if isinstance(backend, CgroupsV2):
        return [backend.root / backend.prefix / username / "cgroup.procs"]
    if isinstance(backend, CgroupsV1):
        return [
            root / backend.prefix / username / "cgroup.procs" for root in backend._hierarchies()
        ]
    return []
