"""Reach into a user's home as that user: a home dir fd opened with the thread's user identity."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

from execution_agent import creds, identity
from execution_agent.errors import bad_request, forbidden, from_os_error, not_found
from execution_agent.safepath import open_beneath
from execution_agent.validation import UserRef, split_home_path


@contextlib.contextmanager
def home_as_user(agent, user: UserRef) -> Iterator[int]:
    """Yield an O_PATH fd of the home while this thread acts as the user (when root)."""
    owner = agent.sandbox.owner_uid(user)
    home = identity.check_home(agent.config, user, owner)
    acting = creds.acting_as(user.uid, user.gid) if agent.root else contextlib.nullcontext()
    with acting:
        try:
            fd = os.open(home, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise from_os_error(exc, "home") from None
        try:
            st = os.fstat(fd)
            # Re-check on the fd itself: the path could have been swapped since check_home.
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner:
                raise forbidden("home changed while it was being opened")
            yield fd
        finally:
            os.close(fd)


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
