"""Creating a user's home (with its skeleton) and web directory, idempotently and atomically.

Each directory is assembled under a dot-named staging name in the same parent, owned
and populated, then renamed into place with RENAME_NOREPLACE. So a home either does not
exist or exists complete and owned by its user: a crash never leaves a half-made,
root-owned home that a retry would have to guess about, and two concurrent requests
cannot both win.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from string import Template

from fileserver_agent.errors import ApiError

SKELETON_DIR = Path(__file__).with_name("skeleton")
# Skeleton file in the package -> name in the home (dotfiles do not survive packaging well).
SKELETON_FILES = {"README.txt": "README.txt", "bashrc": ".bashrc"}
STAGING_PREFIX = ".warren-staging-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class HomeResult:
    """Where a user's directories are and whether this call created the home."""

    path: str
    www_path: str
    created: bool


def ensure_home(
    *,
    homes_root: Path,
    www_root: Path,
    username: str,
    uid: int,
    gid: int,
    create_directory=None,
) -> HomeResult:
    """Make ``<homes_root>/<username>`` (with skeleton) and ``<www_root>/<username>`` exist.

    Both are owned by uid:gid with mode 0700. Existing directories are left exactly as
    they are (a user may have changed them) unless they belong to someone else, which
    is refused with 409 rather than handed over. ``created`` reports the home only: a
    missing web directory beside an existing home is quietly made again.
    ``create_directory(root_fd, name)`` makes the home's staging directory (the quota
    backend's choice: a btrfs subvolume); the web directory is always a plain one.
    """
    home_created = _ensure_owned_dir(
        homes_root,
        username,
        uid,
        gid,
        populate=lambda fd: _write_skeleton(fd, username, uid, gid),
        create_directory=create_directory or _mkdir_private,
    )
    _ensure_owned_dir(www_root, username, uid, gid, populate=None, create_directory=_mkdir_private)
    return HomeResult(
        path=str(homes_root / username), www_path=str(www_root / username), created=home_created
    )


def _mkdir_private(root_fd: int, name: str) -> None:
    os.mkdir(name, 0o700, dir_fd=root_fd)


def _ensure_owned_dir(
    root: Path, name: str, uid: int, gid: int, *, populate, create_directory
) -> bool:
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        if _check_existing(root_fd, root / name, name, uid, gid):
            return False
        staging = f"{STAGING_PREFIX}{name}-{secrets.token_hex(6)}"
        create_directory(root_fd, staging)
        try:
            _prepare(root_fd, staging, uid, gid, populate)
            if _rename_noreplace(root_fd, staging, name):
                return True
        except BaseException:
            shutil.rmtree(staging, dir_fd=root_fd, ignore_errors=True)
            raise
        # Someone else created it between our check and our rename.
        shutil.rmtree(staging, dir_fd=root_fd, ignore_errors=True)
        _check_existing(root_fd, root / name, name, uid, gid)
        return False
    finally:
        os.close(root_fd)


def _check_existing(root_fd: int, path: Path, name: str, uid: int, gid: int) -> bool:
    try:
        st = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        raise ApiError(409, "conflict", f"{path} exists and is not a directory")
    if (st.st_uid, st.st_gid) != (uid, gid):
        raise ApiError(
            409,
            "conflict",
            f"{path} already exists and belongs to uid {st.st_uid} gid {st.st_gid}, "
            f"not {uid}:{gid}",
        )
    return True


def _prepare(root_fd: int, staging: str, uid: int, gid: int, populate) -> None:
    fd = os.open(staging, _DIR_FLAGS, dir_fd=root_fd)
    try:
        if populate is not None:
            populate(fd)
        os.fchown(fd, uid, gid)
        # chown clears nothing on a directory, but set the mode last and explicitly so the
        # process umask can never leave a home group- or world-readable.
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def _write_skeleton(dir_fd: int, username: str, uid: int, gid: int) -> None:
    for source, target in SKELETON_FILES.items():
        template = Template((SKELETON_DIR / source).read_text())
        content = template.safe_substitute(username=username).encode()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(target, flags, 0o644, dir_fd=dir_fd)
        try:
            os.write(fd, content)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)


def _rename_noreplace(dir_fd: int, source: str, target: str) -> bool:
    """Rename within ``dir_fd`` unless ``target`` exists; return False if it does."""
    result = _libc.renameat2(dir_fd, source.encode(), dir_fd, target.encode(), _RENAME_NOREPLACE)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error == errno.EEXIST:
        return False
    raise OSError(error, os.strerror(error), target)


def owned_dir_stat(path: Path, uid: int, *, what: str) -> os.stat_result:
    """``path``'s lstat, refused unless it is a directory (not a link) owned by ``uid``."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ApiError(404, "not_found", f"no {what} at {path}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        raise ApiError(409, "conflict", f"the {what} {path} is not owned by uid {uid}")
    return st
