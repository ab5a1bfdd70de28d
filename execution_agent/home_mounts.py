"""Which file server's copy of a home an execution server shows at <homes root>/<username>.

With several file servers, each one's homes are mounted on every execution server at a path
of their own (``WARREN_FILESERVER_MOUNTS``, e.g. ``fs-1=/srv/homes/fs-1``) and each user's home
is a bind mount of <their file server's mount>/<username> at <WARREN_HOMES_ROOT>/<username>.
Moving a user to another file server switches that bind (op ``home_mount_set``). Likewise,
optionally, each file server's web directories (``WARREN_FILESERVER_WWW_MOUNTS``, the same
file servers) and each user's <WARREN_WWW_ROOT>/<username>, switched together with the home.

The parser is shared with Django's settings (standard library only).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import platform
import re
import stat
import threading
from pathlib import Path

VARIABLE = "WARREN_FILESERVER_MOUNTS"
WWW_VARIABLE = "WARREN_FILESERVER_WWW_MOUNTS"
log = logging.getLogger("execution_agent")
# A registry hostname (servers.Server.hostname): letters, digits, dots, dashes, underscores.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


class MountsError(ValueError):
    """A malformed WARREN_FILESERVER_(WWW_)MOUNTS; the message says which item and why."""


def parse_fileserver_mounts(text: str | None, variable: str = VARIABLE) -> dict[str, str]:
    """``fs-1=/srv/homes/fs-1,fs-2=/srv/homes/fs-2`` → {hostname: mount}; empty/unset → {}."""
    text = (text or "").strip()
    if not text:
        return {}
    mounts: dict[str, str] = {}
    for number, raw in enumerate(text.split(","), start=1):
        item = raw.strip()
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        where = f"{variable} item {number} ({item!r})"
        if not sep or not name or not path:
            raise MountsError(f"{where}: expected FILE_SERVER_HOSTNAME=/absolute/path")
        if not NAME_RE.match(name):
            raise MountsError(f"{where}: {name!r} is not a file server's hostname")
        if name in mounts:
            raise MountsError(f"{where}: {name} is named twice")
        if not path.startswith("/") or "\0" in path:
            raise MountsError(f"{where}: the mount must be an absolute path")
        parts = [part for part in path.split("/") if part]
        if not parts or any(part in (".", "..") for part in parts):
            raise MountsError(f"{where}: the mount must be a directory below / without . or ..")
        path = "/" + "/".join(parts)
        for other_name, other in mounts.items():
            if path == other or path.startswith(other + "/") or other.startswith(path + "/"):
                raise MountsError(f"{where}: {path} overlaps {other_name}'s mount {other}")
        mounts[name] = path
    return mounts


def parse_fileserver_www_mounts(text: str | None, homes: dict[str, str]) -> dict[str, str]:
    """WARREN_FILESERVER_WWW_MOUNTS → {hostname: mount}: the file servers of ``homes`` (the
    parsed WARREN_FILESERVER_MOUNTS), each at a path overlapping none of the homes mounts."""
    mounts = parse_fileserver_mounts(text, WWW_VARIABLE)
    if not mounts:
        return {}
    if set(mounts) != set(homes):
        raise MountsError(
            f"{WWW_VARIABLE} must name the file servers of {VARIABLE}: "
            f"{', '.join(sorted(homes)) or 'none'}, not {', '.join(sorted(mounts))}"
        )
    for name, path in mounts.items():
        for other_name, other in homes.items():
            if path == other or path.startswith(other + "/") or other.startswith(path + "/"):
                raise MountsError(
                    f"{WWW_VARIABLE}: {name}'s {path} overlaps {other_name}'s homes mount {other}"
                )
    return mounts


# --- switching a home's bind mount (root only) ---------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
# The new mount API's numbers are the same on every architecture (since Linux 5.2).
_SYS_OPEN_TREE = 428 if platform.machine() in ("x86_64", "aarch64") else None
_SYS_MOVE_MOUNT = 429 if _SYS_OPEN_TREE else None
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_SYMLINK_NOFOLLOW = 0x100
OPEN_TREE_CLONE = 1
MOVE_MOUNT_F_EMPTY_PATH = 0x04
MNT_DETACH = 2

# One switch at a time on this machine: two at once on the same home could stack binds.
_lock = threading.Lock()


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _open_tree(dirfd: int, path: str, flags: int) -> int:
    """A detached copy (clone) of the mount at dirfd/path: attached later with move_mount."""
    if _SYS_OPEN_TREE is None:
        raise OSError(errno.ENOSYS, "open_tree: unsupported architecture")
    call = _libc.syscall(_SYS_OPEN_TREE, dirfd, os.fsencode(path), flags | os.O_CLOEXEC)
    return _check(call, "open_tree")


def _move_mount(tree_fd: int, target: str) -> None:
    call = _libc.syscall(
        _SYS_MOVE_MOUNT, tree_fd, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH
    )
    _check(call, f"move_mount to {target}")


def _umount_detach(target: str) -> None:
    _check(_libc.umount2(os.fsencode(target), MNT_DETACH), f"umount {target}")


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_at(target: str) -> int:
    """How many mounts are stacked at exactly ``target`` in this mount namespace."""
    with open("/proc/self/mountinfo") as handle:
        return sum(1 for line in handle if _unescape(line.split()[4]) == target)


def open_source(root: str, username: str, uid: int) -> int:
    """An O_PATH fd of root/username: a real directory (no symlink) owned by uid.

    ``root`` is the operator's configured mount; ``username`` is one validated component, so
    the one lookup beneath the root is done with O_NOFOLLOW (a symlink is refused, never
    followed, whenever it was planted).
    """
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = os.open(
            username, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root_fd
        )
    finally:
        os.close(root_fd)
    st = os.fstat(fd)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        os.close(fd)
        raise PermissionError(
            errno.EPERM, f"{root}/{username} is not a directory owned by uid {uid}"
        )
    return fd


def bind_home(source_fd: int, target: str) -> bool:
    """Make ``target`` a bind mount of the directory ``source_fd``; False if it already is."""
    return bind_all([(source_fd, target)])[0]


def bind_all(binds: list[tuple[int, str]]) -> list[bool]:
    """Make each target a bind mount of its source directory fd, all or none; which changed.

    Every new tree and every old bind is cloned first (a failure there changes nothing); then
    target by target the old bind is detached and the new one attached. If one cannot be, its
    old copy is attached again and the targets switched before it are switched back.
    """
    with _lock:
        changed: list[bool] = []
        plans: list[_Switch] = []
        try:
            for source_fd, target in binds:
                source = os.fstat(source_fd)
                stacked = mounts_at(target)
                if stacked == 1:
                    current = os.stat(target)
                    if (current.st_dev, current.st_ino) == (source.st_dev, source.st_ino):
                        changed.append(False)
                        continue
                changed.append(True)
                if not stacked:
                    _ensure_mountpoint(target)
                plan = _Switch(target, stacked)
                plans.append(plan)
                plan.tree = _open_tree(source_fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH)
                if stacked:
                    plan.old = _open_tree(AT_FDCWD, target, OPEN_TREE_CLONE | AT_SYMLINK_NOFOLLOW)
            done: list[_Switch] = []
            for plan in plans:
                try:
                    plan.attach()
                except OSError:
                    for earlier in reversed(done):
                        try:
                            earlier.undo()
                        except OSError as undo:  # the failure raised below is the one to report
                            log.error("%s not switched back: %s", earlier.target, undo)
                    raise
                done.append(plan)
        finally:
            for plan in plans:
                plan.close()
        return changed


class _Switch:
    """One target's switch: the new tree and the old bind's clone, both detached until used."""

    def __init__(self, target: str, stacked: int) -> None:
        self.target, self.stacked = target, stacked
        self.tree = self.old = -1

    def attach(self) -> None:
        for _ in range(self.stacked):
            _umount_detach(self.target)
        try:
            _move_mount(self.tree, self.target)
        except OSError:
            if self.old >= 0:
                _move_mount(self.old, self.target)  # the previous copy, as it was
            raise

    def undo(self) -> None:
        """Back to the old copy (or to no bind) after a later target failed."""
        _umount_detach(self.target)
        if self.old >= 0:
            _move_mount(self.old, self.target)

    def close(self) -> None:
        for fd in (self.tree, self.old):
            if fd >= 0:
                os.close(fd)


def _ensure_mountpoint(target: str) -> None:
    """<homes or www root>/<username>: a real directory (made, root's, if missing), not a link."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        os.mkdir(target, 0o755)
        return
    if not stat.S_ISDIR(st.st_mode):
        raise PermissionError(errno.EPERM, f"{target} is not a directory")


def configured_roots(mounts: dict[str, str] | tuple) -> list[str]:
    """The mount paths of the configuration (a dict, or the agent Config's pairs)."""
    pairs = mounts.items() if isinstance(mounts, dict) else mounts
    return [str(Path(path)) for _, path in pairs]
