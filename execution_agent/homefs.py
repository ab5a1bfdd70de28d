"""Reach into a user's home (or web directory) as that user: a directory fd opened with the
thread's user identity."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

from execution_agent import creds, identity
from execution_agent.errors import bad_request, forbidden, from_os_error, not_found
from execution_agent.safepath import open_beneath
from execution_agent.validation import UserRef, split_home_path

# The roots file operations may work beneath: the home, or the user's web directory
# (<WARREN_WWW_ROOT>/<username>, bound at /var/www in the user's sandboxes: WSGI files).
AREAS = ("home", "www")


@contextlib.contextmanager
def home_as_user(agent, user: UserRef) -> Iterator[int]:
    """Yield an O_PATH fd of the home while this thread acts as the user (when root)."""
    with area_as_user(agent, user, "home") as fd:
        yield fd


@contextlib.contextmanager
def area_as_user(agent, user: UserRef, area: str) -> Iterator[int]:
    """Yield an O_PATH fd of the user's home or web directory while acting as the user."""
    owner = agent.sandbox.owner_uid(user)
    root = _area_root(agent, user, area, owner)
    acting = creds.acting_as(user.uid, user.gid) if agent.root else contextlib.nullcontext()
    with acting:
        try:
            fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise from_os_error(exc, area) from None
        try:
            st = os.fstat(fd)
            # Re-check on the fd itself: the path could have been swapped since the check.
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner:
                raise forbidden(f"{area} changed while it was being opened")
            yield fd
        finally:
            os.close(fd)


def _area_root(agent, user: UserRef, area: str, owner: int):
    if area == "home":
        return identity.check_home(agent.config, user, owner)
    if area == "www":
        www = identity.www_dir_if_owned(agent.config, user, owner)
        if www is None:
            raise forbidden(
                f"web directory {identity.www_of(agent.config, user)} is not a directory "
                f"owned by uid {owner}"
            )
        return www
    raise bad_request(f"args.area: must be one of {', '.join(AREAS)}")


def sandbox_cwd(agent, user: UserRef, raw: str | None) -> str:
    """Validate an in-sandbox working directory: the home or below it, or /tmp or below."""
    home = f"/home/{user.username}"
    if raw is None:
        return home
    if not raw.startswith("/") or "\0" in raw:
        raise bad_request("args.cwd: must be an absolute path inside the sandbox")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise forbidden("args.cwd: '..' is not allowed")
    normalized = "/" + "/".join(parts)
    sandbox_tmp = "/tmp"  # noqa: S108 - the user's own /tmp inside the sandbox
    if normalized == sandbox_tmp or normalized.startswith(sandbox_tmp + "/"):
        return normalized
    if normalized != home and not normalized.startswith(home + "/"):
        raise forbidden(f"args.cwd: must be inside {home} or /tmp")
    relative = split_home_path(normalized[len(home) + 1 :], "args.cwd")
    with home_as_user(agent, user) as home_fd:
        try:
            os.close(open_beneath(home_fd, relative, os.O_PATH | os.O_DIRECTORY))
        except OSError as exc:
            error = from_os_error(exc, f"args.cwd {normalized}")
            if error.code == "not_found":
                raise not_found(f"args.cwd: {normalized} is not an existing directory") from None
            raise error from None
    return normalized
