"""An app's logs: the access log is nginx's (in root's own directory); the error and server
logs are uWSGI's, in a directory the user owns and could plant symlinks in, so they are opened
as the user, never following a link."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable

from execution_agent.errors import OpError
from execution_agent.validation import UserRef
from execution_agent.webfront import WebLayout


class AppLogs:
    def __init__(self, layout: WebLayout, as_user: Callable) -> None:
        self.layout = layout
        self.as_user = as_user

    # --- logs: the access log is nginx's (root's dir); the others are read as the user,
    # who owns their directory and could plant symlinks there -----------------------------
    def _open_log(self, user: UserRef, name: str) -> int | None:
        if name.endswith(".access.log"):
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
        """Everything logged since (inode, offset). uWSGI rotates to <name>.1 at the size
        limit and, racing with its own restart, on reloads: what the old file got after
        offset (it is <name>.1 now) comes first, then the whole new file."""
        fd = self._open_log(user, name)
        if fd is None:
            return self._read(user, name + ".1", inode, offset)
        try:
            st = os.fstat(fd)
            if st.st_ino == inode and st.st_size >= offset:
                return os.pread(fd, 1 << 20, offset)
            current = os.pread(fd, 1 << 20, 0)
        finally:
            os.close(fd)
        return self._read(user, name + ".1", inode, offset) + current

    def _read(self, user: UserRef, name: str, inode: int, offset: int) -> bytes:
        """The bytes after offset of name, if it is still the file with that inode."""
        fd = self._open_log(user, name)
        if fd is None:
            return b""
        try:
            if os.fstat(fd).st_ino != inode:
                return b""
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
