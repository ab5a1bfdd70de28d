"""File operations inside a user's home or web directory ("area"), done as the user and
confined beneath that directory."""

from __future__ import annotations

import ctypes
import os
import shutil
import stat

from execution_agent.errors import OpError, bad_request, forbidden, from_os_error
from execution_agent.homefs import AREAS, area_as_user
from execution_agent.ops import Reply, op
from execution_agent.safepath import open_beneath
from execution_agent.validation import Args

MAX_ENTRIES = 10000
RENAME_NOREPLACE = 1
OPEN_FLAGS = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
}
_libc = ctypes.CDLL(None, use_errno=True)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _describe(name: str, st: os.stat_result) -> dict:
    return {
        "name": name,
        "type": _kind(st.st_mode),
        "size": st.st_size,
        "mtime": st.st_mtime,
        "mode": stat.S_IMODE(st.st_mode),
    }


def _parent(home_fd: int, parts: list[str], what: str) -> int:
    """An O_PATH fd of the directory holding the last component (which must exist)."""
    if not parts:
        raise forbidden(f"{what}: not allowed on the home (or web directory) itself")
    return open_beneath(home_fd, parts[:-1], os.O_PATH | os.O_DIRECTORY)


def _in_home(agent, args: Args, what: str, action):
    """Run action(root_fd) as the user beneath args.area, turning OS errors into protocol errors."""
    user = args.user()
    area = args.choice("area", AREAS, default="home")
    with area_as_user(agent, user, area) as home_fd:
        try:
            return action(home_fd)
        except OSError as exc:
            raise from_os_error(exc, what) from None


@op("fs_list", fields=("user", "path", "area"))
def fs_list(agent, args: Args) -> Reply:
    """List a directory in the home with each entry's type, size, mtime and mode."""
    parts = args.home_path("path", default="")

    def action(home_fd: int) -> dict:
        fd = open_beneath(home_fd, parts, os.O_RDONLY | os.O_DIRECTORY)
        try:
            entries = []
            with os.scandir(fd) as listing:
                for entry in listing:
                    if len(entries) == MAX_ENTRIES:
                        return {"entries": entries, "truncated": True}
                    try:
                        entries.append(_describe(entry.name, entry.stat(follow_symlinks=False)))
                    except FileNotFoundError:
                        continue
        finally:
            os.close(fd)
        entries.sort(key=lambda item: item["name"])
        return {"entries": entries, "truncated": False}

    result = _in_home(agent, args, "list", action)
    return Reply(result)


@op("fs_stat", fields=("user", "path", "area"))
def fs_stat(agent, args: Args) -> Reply:
    """Describe one entry of the home (a symlink is described, not followed)."""
    parts = args.home_path("path")

    def action(home_fd: int) -> dict:
        if not parts:
            return _describe("", os.fstat(home_fd))
        parent = _parent(home_fd, parts, "stat")
        try:
            return _describe(parts[-1], os.stat(parts[-1], dir_fd=parent, follow_symlinks=False))
        finally:
            os.close(parent)

    result = _in_home(agent, args, "stat", action)
    return Reply(result)


@op("fs_mkdir", fields=("user", "path", "area"))
def fs_mkdir(agent, args: Args) -> Reply:
    """Create one directory in the home."""
    parts = args.home_path("path")

    def action(home_fd: int) -> dict:
        parent = _parent(home_fd, parts, "mkdir")
        try:
            os.mkdir(parts[-1], 0o755, dir_fd=parent)
        finally:
            os.close(parent)
        return {"created": True}

    result = _in_home(agent, args, "mkdir", action)
    return Reply(result)


@op("fs_rename", fields=("user", "src", "dst", "replace", "area"))
def fs_rename(agent, args: Args) -> Reply:
    """Rename within the home, refusing to overwrite unless replace is true."""
    src = args.home_path("src")
    dst = args.home_path("dst")
    replace = args.bool("replace", default=False)

    def action(home_fd: int) -> dict:
        src_parent = _parent(home_fd, src, "rename")
        try:
            dst_parent = _parent(home_fd, dst, "rename")
            try:
                flags = 0 if replace else RENAME_NOREPLACE
                if (
                    _libc.renameat2(
                        src_parent, os.fsencode(src[-1]), dst_parent, os.fsencode(dst[-1]), flags
                    )
                    != 0
                ):
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(dst_parent)
        finally:
            os.close(src_parent)
        return {"renamed": True}

    result = _in_home(agent, args, "rename", action)
    return Reply(result)


@op("fs_delete", fields=("user", "path", "recursive", "area"))
def fs_delete(agent, args: Args) -> Reply:
    """Delete a file, a symlink, or a directory (its contents too when recursive)."""
    parts = args.home_path("path")
    recursive = args.bool("recursive", default=False)

    def action(home_fd: int) -> dict:
        parent = _parent(home_fd, parts, "delete")
        try:
            name = parts[-1]
            if stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                if recursive:
                    # fd-based rmtree never follows symlinks (rmtree.avoids_symlink_attacks)
                    shutil.rmtree(name, dir_fd=parent)
                else:
                    os.rmdir(name, dir_fd=parent)
            else:
                os.unlink(name, dir_fd=parent)
        finally:
            os.close(parent)
        return {"deleted": True}

    result = _in_home(agent, args, "delete", action)
    return Reply(result)


@op("fs_open", fields=("user", "path", "mode", "perm", "area"))
def fs_open(agent, args: Args) -> Reply:
    """Open a regular file in the home as the user and pass its fd back.

    ``perm`` (mode "x" only) gives the new file those permission bits, umask aside, so a
    file written aside and renamed over another can keep the original's mode.
    """
    parts = args.home_path("path")
    mode = args.choice("mode", tuple(OPEN_FLAGS))
    perm = args.int("perm", minimum=0, maximum=0o777, default=None)
    if not parts:
        raise bad_request("args.path: the home is a directory, not a file")
    if perm is not None and mode != "x":
        raise bad_request("args.perm: only for mode x (a newly created file)")

    def action(home_fd: int) -> tuple[int, int]:
        # O_NONBLOCK so a FIFO planted in the home cannot park this thread in open().
        fd = open_beneath(home_fd, parts, OPEN_FLAGS[mode] | os.O_NONBLOCK | os.O_NOCTTY)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise OpError("bad_request", "args.path: not a regular file")
        os.set_blocking(fd, True)
        if perm is not None:
            try:
                os.fchmod(fd, perm)  # as the user: they own the file they just created
            except OSError:
                os.close(fd)
                raise
        return fd, st.st_size

    fd, size = _in_home(agent, args, "open", action)
    return Reply({"size": size}, fds=[("file", fd)])
