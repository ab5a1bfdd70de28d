"""The ``du`` backend, for kernels without quota support.

Usage is measured (see du_scan) rather than asked of the kernel, and limits are only
recorded: nothing stops a write, so Warren's upload path reads ``GET /v1/usage`` and
refuses uploads that would go over. Limits live in a log under the state directory so
they survive restarts; it is written without fsync because the nightly
``storage_quotas_reapply`` batch restores anything a crash loses (the seed's lesson: quota
state can be lost, so it must be cheap to re-apply).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import stat
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from fileserver_agent.identities import USERNAME_RE
from fileserver_agent.quota import (
    PlainDirectoryHomes,
    QuotaBackendError,
    QuotaLimits,
    Usage,
    filesystem_size,
)
from fileserver_agent.quota.du_scan import TreeUsage

MAX_CACHED_TREES = 2000
COMPACT_AFTER_LINES = 100_000

logger = logging.getLogger(__name__)


class LimitsLog:
    """Soft and hard limits per uid, kept as an append-only log of ``uid soft hard`` lines.

    Appending makes one limit or a batch of ten thousand a single write; a file per uid
    was tried first and spent its time in ext4 flushing data on every rename-over. The
    log is replayed into memory and followed from the last offset read, so several
    processes sharing a state directory stay consistent; an exclusive flock orders
    appends against compaction, which rewrites the log once it is mostly superseded.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._limits: dict[int, tuple[int, int]] = {}
        self._lines = 0
        self._offset = 0
        self._inode: int | None = None
        self._mutex = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def write(self, batch: list[QuotaLimits]) -> None:
        """Append the limits (later lines win) and compact the log when it has grown stale."""
        data = "".join(f"{q.uid} {q.soft_bytes} {q.hard_bytes}\n" for q in batch).encode()
        with self._mutex, self._exclusive():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                remaining = memoryview(data)
                while remaining:
                    remaining = remaining[os.write(fd, remaining) :]
            finally:
                os.close(fd)
            self._catch_up()
            if self._lines > max(2 * len(self._limits), COMPACT_AFTER_LINES):
                self._compact()

    def read(self, uid: int) -> tuple[int, int]:
        """Return (soft, hard) for ``uid``; (0, 0), meaning no limits, if none were set."""
        with self._mutex:
            self._catch_up()
            return self._limits.get(uid, (0, 0))

    def _catch_up(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if st.st_ino != self._inode or st.st_size < self._offset:
            # Compacted (by us or another process): replay the new file from the start.
            self._limits, self._lines, self._offset, self._inode = {}, 0, 0, st.st_ino
        if st.st_size == self._offset:
            return
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            chunk = log.read(st.st_size - self._offset)
        # A line cut short by a crash, or still being appended, is left for next time.
        complete = chunk[: chunk.rfind(b"\n") + 1]
        for line in complete.splitlines():
            self._apply(line)
        self._offset += len(complete)

    def _apply(self, line: bytes) -> None:
        parts = line.split()
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            logger.warning("ignoring malformed line in %s: %r", self.path, line[:80])
            return
        uid, soft, hard = (int(part) for part in parts)
        self._limits[uid] = (soft, hard)
        self._lines += 1

    def _compact(self) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        lines = (f"{uid} {soft} {hard}\n" for uid, (soft, hard) in self._limits.items())
        temporary.write_text("".join(lines))
        temporary.chmod(0o600)
        os.replace(temporary, self.path)
        self._catch_up()

    @contextlib.contextmanager
    def _exclusive(self):
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


class HomeLocator:
    """Finds the directories a uid's usage is made of: its home and its web directory.

    Homes are found by owner, not by name, because the API speaks uids. The map is
    rebuilt from one listing of the homes root whenever a cached answer no longer holds.
    """

    def __init__(self, homes_root: Path, www_root: Path) -> None:
        self.homes_root = homes_root
        self.www_root = www_root
        self._names_by_uid: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    def directories(self, uid: int) -> list[str]:
        """Return the existing directories owned by ``uid`` that count towards its usage."""
        names = self._names(uid)
        found = [str(self.homes_root / name) for name in names]
        found += [str(self.www_root / n) for n in names if self._owned(self.www_root, n, uid)]
        return found

    def homes(self, uid: int) -> list[str]:
        """Return the homes owned by ``uid`` (one, unless an operator copied one by hand)."""
        return [str(self.homes_root / name) for name in self._names(uid)]

    def all_homes(self) -> dict[int, list[str]]:
        """Every uid's homes from one fresh listing (for batches: no listing per missing uid)."""
        with self._lock:
            self._rebuild()
            names_by_uid = dict(self._names_by_uid)
        return {
            uid: [str(self.homes_root / name) for name in names]
            for uid, names in names_by_uid.items()
        }

    def _names(self, uid: int) -> list[str]:
        with self._lock:
            names = self._names_by_uid.get(uid)
            if names is None or not all(self._owned(self.homes_root, n, uid) for n in names):
                self._rebuild()
                names = self._names_by_uid.get(uid, [])
        return names

    def _rebuild(self) -> None:
        names_by_uid: dict[int, list[str]] = {}
        with os.scandir(self.homes_root) as entries:
            for entry in entries:
                if not USERNAME_RE.match(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    names_by_uid.setdefault(st.st_uid, []).append(entry.name)
        self._names_by_uid = names_by_uid

    @staticmethod
    def _owned(root: Path, name: str, uid: int) -> bool:
        try:
            st = os.lstat(root / name)
        except FileNotFoundError:
            return False
        return stat.S_ISDIR(st.st_mode) and st.st_uid == uid


class DuQuotaBackend(PlainDirectoryHomes):
    """Records limits and measures usage by summing allocated blocks, incrementally."""

    name = "du"

    def __init__(
        self, *, homes_root: Path, www_root: Path, state_dir: Path, rescan_seconds: float
    ) -> None:
        self.homes_root = homes_root
        self.limits = LimitsLog(state_dir / "limits.log")
        self.locator = HomeLocator(homes_root, www_root)
        self.rescan_seconds = rescan_seconds
        self._trees: OrderedDict[str, TreeUsage] = OrderedDict()
        self._tree_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def set_quota(self, limits: QuotaLimits) -> QuotaLimits:
        """Record one user's limits (kept to the byte: nothing rounds them)."""
        self.limits.write([limits])
        return limits

    def set_quotas(self, batch: list[QuotaLimits]) -> int:
        """Record many users' limits with one append."""
        if batch:
            self.limits.write(batch)
        return len(batch)

    def usage(self, uid: int) -> Usage:
        """Measure the user's home and web directory and return them with the recorded limits."""
        soft, hard = self.limits.read(uid)
        used = sum(self.measure(directory) for directory in self.locator.directories(uid))
        return Usage(used_bytes=used, soft_bytes=soft, hard_bytes=hard, backend=self.name)

    def check(self) -> dict[str, object]:
        """Report where limits live and prove that directory is writable."""
        with tempfile.NamedTemporaryFile(dir=self.limits.path.parent, prefix=".probe-"):
            pass
        return {"limits_log": str(self.limits.path), "cached_trees": len(self._trees)}

    def capacity_bytes(self) -> int:
        """The size of the filesystem holding the homes."""
        return filesystem_size(self.homes_root)

    def measure(self, directory: str) -> int:
        """Allocated bytes under ``directory``, from a cached, incrementally refreshed scan."""
        tree, lock = self._tree(directory)
        with lock:
            try:
                return tree.measure()
            except FileNotFoundError:
                return 0  # removed between locating and measuring: it holds nothing now
            except OSError as exc:
                raise QuotaBackendError(f"cannot measure {directory}: {exc.strerror}") from exc

    def _tree(self, directory: str) -> tuple[TreeUsage, threading.Lock]:
        # A bounded LRU: a file server with tens of thousands of homes should not keep
        # every listing in memory; an evicted home costs one full scan when next read.
        with self._lock:
            tree = self._trees.get(directory)
            if tree is None:
                tree = TreeUsage(directory, rescan_seconds=self.rescan_seconds)
                self._trees[directory] = tree
                self._tree_locks.setdefault(directory, threading.Lock())
                while len(self._trees) > MAX_CACHED_TREES:
                    evicted, _ = self._trees.popitem(last=False)
                    self._tree_locks.pop(evicted, None)
            self._trees.move_to_end(directory)
            return tree, self._tree_locks[directory]
