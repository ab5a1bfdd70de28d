"""Open paths strictly beneath a directory fd: openat2(RESOLVE_BENEATH), or an equivalent walk.

Both refuse absolute symlinks, `..` that climbs above the root fd, and /proc magic links, at
the moment of each lookup, so a symlink swapped in between a check and a use cannot escape.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}.get(platform.machine())

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_BENEATH = 0x08
MAX_SYMLINKS = 40


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _openat2(dirfd: int, path: str, flags: int, mode: int) -> int:
    # openat2 rejects a mode without O_CREAT; O_TMPFILE contains the O_DIRECTORY bit, so
    # it must be compared whole.
    creates = flags & os.O_CREAT or flags & os.O_TMPFILE == os.O_TMPFILE
    how = _OpenHow(
        flags | os.O_CLOEXEC,
        mode if creates else 0,
        RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    )
    encoded = os.fsencode(path)
    for _ in range(8):
        fd = _libc.syscall(_SYS_OPENAT2, dirfd, encoded, ctypes.byref(how), ctypes.sizeof(how))
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        # EAGAIN: a concurrent rename/mount made the kernel unsure the walk stayed beneath.
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, "path kept changing during lookup", path)


def _probe_openat2() -> bool:
    if _SYS_OPENAT2 is None:
        return False
    try:
        os.close(_openat2(os.open("/", os.O_PATH), ".", os.O_PATH, 0))
    except OSError:
        return False
    return True


HAVE_OPENAT2 = _probe_openat2()


def open_beneath(
    rootfd: int, parts: list[str], flags: int, mode: int = 0o644, *, use_openat2: bool | None = None
) -> int:
    """Open root/parts/... (following symlinks only while they stay beneath root)."""
    if use_openat2 is None:
        use_openat2 = HAVE_OPENAT2
    if not parts:
        return os.open(
            ".", flags & ~(os.O_CREAT | os.O_EXCL | os.O_TRUNC) | os.O_CLOEXEC, dir_fd=rootfd
        )
    if use_openat2:
        return _openat2(rootfd, "/".join(parts), flags, mode)
    return _walk_open(rootfd, parts, flags, mode)


def _walk_open(rootfd: int, parts: list[str], flags: int, mode: int) -> int:
    """Component-wise equivalent of openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)."""
    stack = [os.dup(rootfd)]  # stack[i] is the directory reached after i components
    pending = list(parts)
    links_followed = 0
    try:
        while pending:
            name = pending.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if len(stack) == 1:
                    raise OSError(errno.EXDEV, "path climbs above its root", "..")
                os.close(stack.pop())
                continue
            if pending:
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            else:
                fd = _open_last(stack[-1], name, flags, mode)
                if fd >= 0 and not stat.S_ISLNK(os.fstat(fd).st_mode):
                    return fd
                if fd < 0:
                    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                target = _readlink_fd(fd)
                os.close(fd)
                links_followed += 1
                if links_followed > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", name)
                if target.startswith("/"):
                    raise OSError(errno.EXDEV, "absolute symlink leaves the root", name)
                pending[:0] = target.split("/")
                continue
            if not pending:
                os.close(fd)
                raise OSError(errno.EAGAIN, "path kept changing during lookup", name)
            if not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, "not a directory", name)
            stack.append(fd)
        # The path ended on "." or ".." components: open the directory we are in.
        return os.open(
            ".", flags & ~(os.O_CREAT | os.O_EXCL | os.O_TRUNC) | os.O_CLOEXEC, dir_fd=stack[-1]
        )
    finally:
        for fd in stack:
            os.close(fd)


def _open_last(dirfd: int, name: str, flags: int, mode: int) -> int:
    """Open the final component without following it; -1 when it is a symlink to follow."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dirfd)
    except OSError as exc:
        # O_NOFOLLOW reports a final symlink as ELOOP (ENOTDIR with O_DIRECTORY on some paths);
        # O_EXCL must not follow one at all, like open(2).
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or flags & os.O_EXCL:
            raise
        probe = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        try:
            if not stat.S_ISLNK(os.fstat(probe).st_mode):
                raise
        finally:
            os.close(probe)
        return -1


def _readlink_fd(fd: int) -> str:
    # readlinkat(fd, "") reads the link an O_PATH|O_NOFOLLOW fd refers to (no path re-walk).
    buf = ctypes.create_string_buffer(4096)
    length = _libc.readlinkat(fd, b"", buf, 4096)
    if length < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return os.fsdecode(buf.raw[:length])
