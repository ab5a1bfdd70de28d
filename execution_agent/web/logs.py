"""An app's logs: the access log is nginx's (in root's own directory); the error and server
logs are uWSGI's, in a directory the user owns and could plant symlinks in, so they are opened
as the user, never following a link.

Every log rotates by size only (web/run.py's loop checks them every few seconds), keeping
LOG_KEEP previous files `<name>.1` (newest) to `<name>.<LOG_KEEP>`. uWSGI's own rotation is
not used: its file logger rotated on every reload, when the master logs through a descriptor
it has already closed (lseek gives -1, read as a size of 2**64 - 1).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable

from execution_agent.errors import OpError
from execution_agent.validation import UserRef
from execution_agent.web.layout import WebLayout
from execution_agent.web.render import LOG_KEEP, LOG_MAX_BYTES


class AppLogs:
    def __init__(self, layout: WebLayout, as_user: Callable) -> None:
        self.layout = layout
        self.as_user = as_user

    # --- logs: the access log is nginx's (root's dir); the others are read as the user,
    # who owns their directory and could plant symlinks there -----------------------------
    def previous(self, user: UserRef, name: str) -> list[dict]:
        """The rotated copies of a log that exist: [{"rotation": n, "size": bytes}]."""
        found = []
        for rotation in range(1, LOG_KEEP + 1):
            size = self.log_size(user, f"{name}.{rotation}")
            if size or self._exists(user, f"{name}.{rotation}"):
                found.append({"rotation": rotation, "size": size})
        return found

    def _exists(self, user: UserRef, name: str) -> bool:
        fd = self._open_log(user, name)
        if fd is None:
            return False
        os.close(fd)
        return True

    def _open_log(self, user: UserRef, name: str) -> int | None:
        if ".access.log" in name:
            directory, acting = self.layout.access_logs_of(user), contextlib.nullcontext()
        else:
            directory, acting = self.layout.user_logs(user), self.as_user(user)
        with acting:
            try:
                dir_fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
            except FileNotFoundError:
                return None
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            except (FileNotFoundError, OSError):
                return None
            finally:
                os.close(dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    def open_log(self, user: UserRef, name: str) -> int:
        fd = self._open_log(user, name)
        if fd is None:
            raise OpError("not_found", f"no log {name} yet")
        return fd

    def log_size(self, user: UserRef, name: str) -> int:
        fd = self._open_log(user, name)
        if fd is None:
            return 0
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def log_position(self, user: UserRef, name: str) -> tuple[int, int]:
        """(inode, size) of a log now: where new lines will start."""
        fd = self._open_log(user, name)
        if fd is None:
            return 0, 0
        try:
            st = os.fstat(fd)
            return st.st_ino, st.st_size
        finally:
            os.close(fd)

    def read_log_from(self, user: UserRef, name: str, inode: int, offset: int) -> bytes:
        """Everything logged since (inode, offset). A rotation in between copied the file to
        <name>.1 and truncated it: what it got after offset comes first (from the copy),
        then the whole file."""
        fd = self._open_log(user, name)
        if fd is None:
            return b""
        try:
            st = os.fstat(fd)
            if st.st_ino == inode and st.st_size >= offset:
                return os.pread(fd, 1 << 20, offset)
            current = os.pread(fd, 1 << 20, 0)
        finally:
            os.close(fd)
        if st.st_ino != inode:
            return current  # a new file altogether: all of it is new
        return self._read(user, name + ".1", offset) + current

    def _read(self, user: UserRef, name: str, offset: int) -> bytes:
        fd = self._open_log(user, name)
        if fd is None:
            return b""
        try:
            return os.pread(fd, 1 << 20, offset)
        finally:
            os.close(fd)

    def tail(self, user: UserRef, name: str, max_bytes: int) -> str:
        fd = self._open_log(user, name)
        if fd is None:
            return ""
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, max_bytes, max(0, size - max_bytes))
        finally:
            os.close(fd)
        if size > max_bytes:
            data = data.split(b"\n", 1)[-1]  # start on a whole line
        return data.decode("utf-8", "replace")


def shift_rotations(dir_fd: int, name: str, keep: int = LOG_KEEP) -> None:
    """<name>.1 becomes <name>.2 and so on; the oldest beyond keep goes."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{name}.{keep}", dir_fd=dir_fd)
    for number in range(keep - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.rename(
                f"{name}.{number}", f"{name}.{number + 1}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd
            )


def rotate_if_big(dir_fd: int, name: str, max_bytes: int = LOG_MAX_BYTES) -> bool:
    """Copy a log past max_bytes to <name>.1 and truncate it (uWSGI keeps its logs open with
    O_APPEND for a vassal's life, and has no signal to reopen them); True if rotated.

    Run as the directory's owner: nothing here follows a link the owner planted."""
    try:
        fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size <= max_bytes:
            return False
        shift_rotations(dir_fd, name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{name}.1", dir_fd=dir_fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        copy = os.open(f"{name}.1", flags, 0o640, dir_fd=dir_fd)
        try:
            offset = 0
            while sent := os.sendfile(copy, fd, offset, 1 << 24):
                offset += sent
        finally:
            os.close(copy)
        os.ftruncate(fd, 0)
        return True
    finally:
        os.close(fd)
