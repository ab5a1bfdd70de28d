"""Allocated bytes under a directory tree, as ``du -sxB1`` counts them, kept up to date cheaply.

What a directory's own stat can and cannot tell us decides the design:

* Creating, deleting or renaming an entry changes the parent directory's mtime and ctime,
  so a directory whose (inode, mtime, ctime) is unchanged still has the same names, and
  its listing can be reused without readdir.
* Writing to a file changes only that file's stat, so growth in place is invisible from
  the directory. Every file therefore gets an lstat on a *full* rescan (at most every
  ``rescan_seconds``), and between those, files changed within the last
  ``rescan_seconds`` ("hot" files, e.g. an upload in progress) are re-stat'ed on every
  read. Only a file that was untouched for longer and then starts growing is seen late,
  at most ``rescan_seconds`` late: that is the staleness bound.
* A directory changed in the same clock tick as our scan may change again without its
  mtime moving (git's "racy" problem), so directories modified within RACY_WINDOW_NS of
  the scan are not trusted next time and are listed again.

Traversal holds a file descriptor per level and opens children with O_NOFOLLOW relative
to their parent, so a user swapping a directory for a symlink mid-scan cannot send us
outside the home, and it never crosses into another filesystem (like ``du -x``).
Hard-linked files are counted once, as du does.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field

RACY_WINDOW_NS = 2_000_000_000
_OPEN_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class DirRecord:
    """What we last saw of one directory: its signature, its files and its subdirectories."""

    ino: int
    mtime_ns: int
    ctime_ns: int
    own_bytes: int
    trusted: bool
    # name -> (inode, link count, allocated bytes, ctime_ns)
    files: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    subdirs: dict[str, DirRecord] = field(default_factory=dict)
    single_link_bytes: int = 0
    # inode -> allocated bytes, for files with more than one link (counted once per tree)
    multi_linked: dict[int, int] = field(default_factory=dict)

    def recount(self) -> None:
        """Recompute the file sums after any of this directory's files changed."""
        self.single_link_bytes = sum(f[2] for f in self.files.values() if f[1] == 1)
        self.multi_linked = {f[0]: f[2] for f in self.files.values() if f[1] > 1}


@dataclass
class ScanStats:
    """Work done by the last refresh, so tests and benchmarks can see it was incremental."""

    full: bool = False
    dirs_listed: int = 0
    dirs_reused: int = 0
    files_statted: int = 0


class _OpenDir:
    """A directory fd that stays open until all its children have been opened from it."""

    __slots__ = ("fd", "pending")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = 1

    def release(self, open_dirs: set[_OpenDir]) -> None:
        self.pending -= 1
        if self.pending == 0:
            os.close(self.fd)
            open_dirs.discard(self)


class TreeUsage:
    """The allocated bytes under one root directory, refreshed incrementally on each read."""

    def __init__(
        self,
        root: str,
        *,
        rescan_seconds: float,
        clock=time.monotonic,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        self.root = root
        self.rescan_seconds = rescan_seconds
        self.racy_window_ns = racy_window_ns
        self._clock = clock
        self._record: DirRecord | None = None
        self._last_full: float | None = None
        self.last_scan = ScanStats()

    def measure(self) -> int:
        """Bring the cached tree up to date and return its total allocated bytes."""
        now = self._clock()
        full = self._last_full is None or now - self._last_full >= self.rescan_seconds
        self._record = self._refresh(full)
        if full:
            self._last_full = now
        return total_bytes(self._record)

    def _refresh(self, full: bool) -> DirRecord:
        stats = self.last_scan = ScanStats(full=full)
        now_ns = time.time_ns()
        hot_since_ns = now_ns - int(self.rescan_seconds * 1e9)
        root_fd = os.open(self.root, _OPEN_DIR_FLAGS)
        root_stat = os.fstat(root_fd)
        open_dirs: set[_OpenDir] = set()
        try:
            top = _OpenDir(root_fd)
            open_dirs.add(top)
            scan = _DirScan(
                root_stat.st_dev, full, now_ns - self.racy_window_ns, hot_since_ns, stats
            )
            record, children = scan.refresh(root_fd, root_stat, self._record)
            stack = [(top, record, name, old) for name, old in reversed(children)]
            top.pending += len(children)
            top.release(open_dirs)
            while stack:
                parent, parent_record, name, old = stack.pop()
                try:
                    fd = os.open(name, _OPEN_DIR_FLAGS, dir_fd=parent.fd)
                except OSError:
                    # Gone or swapped for a non-directory since the parent was read: the
                    # parent's mtime moved, so distrust it and list it next time.
                    parent_record.trusted = False
                    continue
                finally:
                    parent.release(open_dirs)
                handle = _OpenDir(fd)
                open_dirs.add(handle)
                st = os.fstat(fd)
                if st.st_dev != root_stat.st_dev:
                    handle.release(open_dirs)
                    continue
                child, grandchildren = scan.refresh(fd, st, old)
                parent_record.subdirs[name] = child
                stack.extend((handle, child, n, o) for n, o in reversed(grandchildren))
                handle.pending += len(grandchildren)
                handle.release(open_dirs)
            return record
        finally:
            for handle in open_dirs:
                os.close(handle.fd)


class _DirScan:
    """Refreshes one directory at a time from its fd, reusing what is still valid."""

    def __init__(
        self, dev: int, full: bool, trusted_before_ns: int, hot_since_ns: int, stats: ScanStats
    ) -> None:
        self.dev = dev
        self.full = full
        self.trusted_before_ns = trusted_before_ns
        self.hot_since_ns = hot_since_ns
        self.stats = stats

    def refresh(
        self, fd: int, st: os.stat_result, old: DirRecord | None
    ) -> tuple[DirRecord, list[tuple[str, DirRecord | None]]]:
        """Return the directory's new record and the subdirectories still to visit."""
        if old is not None and _unchanged(old, st):
            record = self._reuse(fd, st, old)
            if record is not None:
                self.stats.dirs_reused += 1
                return record, list(old.subdirs.items())
        return self._list(fd, st, old)

    def _reuse(self, fd: int, st: os.stat_result, old: DirRecord) -> DirRecord | None:
        files = dict(old.files)
        changed = False
        for name, previous in old.files.items():
            if not (self.full or previous[3] >= self.hot_since_ns):
                continue
            try:
                file_stat = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return None  # removed after we read the directory's stat: list it instead
            self.stats.files_statted += 1
            if stat.S_ISDIR(file_stat.st_mode):
                return None
            entry = _file_entry(file_stat)
            if entry != previous:
                files[name] = entry
                changed = True
        record = self._record(st, files)
        if changed:
            record.recount()
        else:
            record.single_link_bytes = old.single_link_bytes
            record.multi_linked = old.multi_linked
        return record

    def _list(
        self, fd: int, st: os.stat_result, old: DirRecord | None
    ) -> tuple[DirRecord, list[tuple[str, DirRecord | None]]]:
        self.stats.dirs_listed += 1
        files: dict[str, tuple[int, int, int, int]] = {}
        children: list[tuple[str, DirRecord | None]] = []
        with os.scandir(fd) as entries:
            for entry in entries:
                try:
                    entry_stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                self.stats.files_statted += 1
                if not stat.S_ISDIR(entry_stat.st_mode):
                    files[entry.name] = _file_entry(entry_stat)
                elif entry_stat.st_dev == self.dev:
                    previous = old.subdirs.get(entry.name) if old else None
                    if previous is not None and previous.ino != entry_stat.st_ino:
                        previous = None
                    children.append((entry.name, previous))
        record = self._record(st, files)
        record.recount()
        return record, children

    def _record(self, st: os.stat_result, files: dict) -> DirRecord:
        recent = self.trusted_before_ns
        return DirRecord(
            ino=st.st_ino,
            mtime_ns=st.st_mtime_ns,
            ctime_ns=st.st_ctime_ns,
            own_bytes=st.st_blocks * 512,
            trusted=st.st_mtime_ns < recent and st.st_ctime_ns < recent,
            files=files,
        )


def _unchanged(old: DirRecord, st: os.stat_result) -> bool:
    return (
        old.trusted
        and old.ino == st.st_ino
        and old.mtime_ns == st.st_mtime_ns
        and old.ctime_ns == st.st_ctime_ns
    )


def _file_entry(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_nlink, st.st_blocks * 512, st.st_ctime_ns)


def total_bytes(root: DirRecord) -> int:
    """Sum a tree's directories and files, counting each hard-linked inode once."""
    total = 0
    multi_linked: dict[int, int] = {}
    stack = [root]
    while stack:
        record = stack.pop()
        total += record.own_bytes + record.single_link_bytes
        multi_linked.update(record.multi_linked)
        stack.extend(record.subdirs.values())
    return total + sum(multi_linked.values())
