"""Last night's copy of a home: listing it, and copying a file or folder from it back into
the live home under a new name.

The snapshot (``WARREN_SNAPSHOT_ROOT``) is a homes root as the backup left it: the eternal
rsync's copy, snapshotted (deploy/backup/eternal-rsync), ``<root>/<username>/...``. Both homes
are opened by fd after checking who owns them, and every path beneath them with openat2
(RESOLVE_BENEATH, execution_agent/safepath.py): a symlink may lead elsewhere in the same home,
never out of it. The copy itself runs as the home's owner (``cp`` with the two fds passed in),
so it reads and writes nothing the user could not, and what it writes is theirs. It is made
under a hidden staging name and renamed into place only once complete (RENAME_NOREPLACE):
a failed copy leaves nothing behind, and an existing name is never overwritten.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from execution_agent.safepath import open_beneath
from fileserver_agent.errors import ApiError
from fileserver_agent.homes import _rename_noreplace

TOOLS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# Written by eternal-rsync at the copy's top as it pauses for the snapshot: when it was taken.
COPY_STAMP = ".warren-copy.json"
MAX_STAMP_BYTES = 4096
STAGING_PREFIX = ".warren-restore-"
MAX_ENTRIES = 5000
STDERR_EXCERPT_CHARS = 600
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink"}


@dataclass(frozen=True)
class Restored:
    path: str
    type: str


def snapshot_list(
    *, snapshot_root: Path | None, username: str, uid: int, parts: list[str]
) -> tuple[list[dict], bool]:
    """The entries of one folder of ``username``'s copy, by name; (entries, truncated)."""
    home = _home_fd(_snapshot_root(snapshot_root), username, uid, what="last night's copy")
    try:
        folder = _beneath(home, parts, os.O_RDONLY | os.O_DIRECTORY, where="the copy")
        try:
            entries = []
            with os.scandir(folder) as listing:
                for entry in listing:
                    entries.append(_describe(entry))
                    if len(entries) > MAX_ENTRIES:
                        break
        finally:
            os.close(folder)
    finally:
        os.close(home)
    entries.sort(key=lambda item: item["name"])
    return entries[:MAX_ENTRIES], len(entries) > MAX_ENTRIES


def snapshot_restore(
    *,
    snapshot_root: Path | None,
    homes_root: Path,
    username: str,
    uid: int,
    source: list[str],
    target: list[str],
    timeout: float,
) -> Restored:
    """Copy ``source`` (a file or folder of the copy) to the new path ``target`` in the home."""
    if not target:
        raise ApiError(400, "bad_request", "target: name the new file or folder")
    snapshot_home = _home_fd(_snapshot_root(snapshot_root), username, uid, what="last night's copy")
    fds = [snapshot_home]
    try:
        live_home = _home_fd(homes_root, username, uid, what="the home")
        fds.append(live_home)
        flags = os.O_PATH | os.O_NOFOLLOW
        original = _beneath(snapshot_home, source, flags, where="the copy")
        fds.append(original)
        kind = _KINDS.get(stat.S_IFMT(os.fstat(original).st_mode))
        if kind not in ("dir", "file"):
            raise ApiError(400, "bad_request", "only files and folders can be restored, not links")
        folder = os.O_PATH | os.O_DIRECTORY
        parent = _beneath(live_home, target[:-1], folder, where="the home", missing="no_folder")
        fds.append(parent)
        name = target[-1]
        _refuse_existing(parent, name, "/".join(target))
        staging = f"{STAGING_PREFIX}{secrets.token_hex(6)}"
        _copy_as_owner(original, parent, staging, uid=uid, timeout=timeout)
        if not _rename_noreplace(parent, staging, name):
            _remove_as_owner(parent, staging, uid=uid, timeout=timeout)
            raise ApiError(409, "exists", f"{'/'.join(target)} already exists")
        return Restored(path="/".join(target), type=kind)
    finally:
        for fd in fds:
            os.close(fd)


def copy_stamp(snapshot_root: Path | None) -> dict | None:
    """When the copy was taken, as eternal-rsync stamped it: ``{taken, since}`` (Unix times,
    ``since`` may be None), or None when there is no readable stamp (an older copy)."""
    if snapshot_root is None:
        return None
    try:
        fd = os.open(snapshot_root / COPY_STAMP, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        # Root's own file (users cannot write the copy), still read with bounds: it is a courtesy.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_STAMP_BYTES)
    finally:
        os.close(fd)
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    taken, since = record.get("taken"), record.get("since")
    if not _a_time(taken) or not (since is None or _a_time(since)):
        return None
    return {"taken": float(taken), "since": None if since is None else float(since)}


def _a_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**33


def _snapshot_root(root: Path | None) -> Path:
    if root is None:
        raise ApiError(404, "no_snapshot", "this file server keeps no copy of the homes")
    return root


def _home_fd(root: Path, username: str, uid: int, *, what: str) -> int:
    """An fd on ``root/username``, which must be a directory (not a link) owned by ``uid``."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = os.open(username, _DIR_FLAGS, dir_fd=root_fd)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            raise ApiError(404, "not_found", f"{username} has no {what}") from None
        raise
    finally:
        os.close(root_fd)
    if os.fstat(fd).st_uid != uid:
        os.close(fd)
        raise ApiError(409, "conflict", f"{what} of {username} is not owned by uid {uid}")
    return fd


def _beneath(
    home: int, parts: list[str], flags: int, *, where: str, missing: str = "not_found"
) -> int:
    try:
        return open_beneath(home, parts, flags)
    except OSError as error:
        shown = "/".join(parts)
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ApiError(404, missing, f"{shown} is not in {where}") from None
        if error.errno in (errno.EXDEV, errno.ELOOP):
            raise ApiError(
                403, "outside", f"{shown} leads outside {where} through a link"
            ) from None
        if error.errno == errno.EACCES:
            raise ApiError(403, "forbidden", f"{shown}: permission denied") from None
        raise


def _describe(entry: os.DirEntry) -> dict:
    st = entry.stat(follow_symlinks=False)
    return {
        "name": entry.name,
        "type": _KINDS.get(stat.S_IFMT(st.st_mode), "other"),
        "size": st.st_size,
        "mtime": int(st.st_mtime),
    }


def _refuse_existing(parent: int, name: str, shown: str) -> None:
    try:
        os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    raise ApiError(409, "exists", f"{shown} already exists")


def _as_owner(argv: list[str], fds: tuple[int, ...], *, uid: int, timeout: float):
    # The home's group is the user's own (homes are made uid:uid); no supplementary groups.
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            timeout=timeout,
            check=False,
            env={"PATH": TOOLS_PATH, "LC_ALL": "C"},
            user=uid,
            group=uid,
            extra_groups=[],
            cwd="/",
            pass_fds=fds,
        )
    except subprocess.TimeoutExpired:
        raise ApiError(504, "timeout", f"the copy took longer than {timeout:g} s") from None


def _copy_as_owner(source: int, parent: int, staging: str, *, uid: int, timeout: float) -> None:
    # -H follows the /proc/self/fd links on the command line only; links inside are copied
    # as links. /proc/self/fd/N of an O_PATH fd reopens that very inode (checked as the user).
    argv = [
        "cp",
        "-R",
        "-H",
        "--preserve=mode,timestamps,xattr",
        "--no-target-directory",
        "--",
        f"/proc/self/fd/{source}",
        f"/proc/self/fd/{parent}/{staging}",
    ]
    result = _as_owner(argv, (source, parent), uid=uid, timeout=timeout)
    if result.returncode != 0:
        _remove_as_owner(parent, staging, uid=uid, timeout=timeout)
        excerpt = result.stderr.decode(errors="replace").strip()[-STDERR_EXCERPT_CHARS:]
        excerpt = excerpt.replace(f"/proc/self/fd/{parent}/{staging}", "(target)")
        raise ApiError(422, "copy_failed", f"the copy did not complete: {excerpt}")


def _remove_as_owner(parent: int, staging: str, *, uid: int, timeout: float) -> None:
    argv = ["rm", "-rf", "--one-file-system", "--", f"/proc/self/fd/{parent}/{staging}"]
    _as_owner(argv, (parent,), uid=uid, timeout=timeout)
