"""The execution agent's file operations for one user, addressed by Location.

Django never opens a user's file itself: the agent opens it as the user, beneath the area's
root, and passes back the file descriptor (PROTOCOL.md). Failures come back as AppError,
which carries a sentence a user can read and the HTTP status that fits it.

The Files tab's adapter for the execution agent, in the one idiom (servers/agents.py) with one
difference: UserFiles is bound to one user (one client per request), and it words failures
as AppError itself, because every Files view shows them alike. Save and Run uses it too.
"""

from __future__ import annotations

from typing import Literal

from django.http import Http404

from config.errors import AppError
from files.paths import Location
from servers.agents import AgentError, AgentUnavailable, execution_agent, user_ref
from servers.models import Server


class NotFound(Http404):
    """The agent found nothing at that path; ``errno`` says whether something in it is a file."""

    def __init__(self, message: str, errno: str | None) -> None:
        super().__init__(message)
        self.errno = errno


UNAVAILABLE = AppError(
    "Your files cannot be reached right now (the file service is not answering). "
    "Please try again in a moment.",
    status=503,
)


# The kernel refused the write (btrfs and ext4 backends): say so in the user's words.
OVER_QUOTA_MESSAGE = (
    "Writing failed: you are over your storage quota. Delete something (or move to a plan "
    "with more space) and try again. Nothing was changed."
)


def explain(error: AgentError, location: Location) -> AppError:
    """Turn the agent's refusal into a sentence about ``location``."""
    name = location.shown_path
    if error.errno == "EEXIST":
        return AppError(f"{name} already exists.", status=409)
    if error.errno == "ENOTEMPTY":
        return AppError(f"{name} is a folder that is not empty.", status=409)
    if error.errno in ("EISDIR", "ENOTDIR"):
        return AppError(f"{name}: a file and a folder are in each other's way.", status=409)
    if error.errno == "EDQUOT":
        return AppError(OVER_QUOTA_MESSAGE, status=413)
    if error.code == "limit":
        return AppError("Your disk quota is full: delete something and try again.", status=413)
    if error.code == "forbidden":
        if error.errno in ("EACCES", "EPERM", "EROFS"):
            return AppError(f"{name}: permission denied.", status=403)
        if error.errno is None:
            # Refused before any path was walked: the home or web directory itself is not
            # there, or not the user's (the agent checks both on every call).
            return AppError(f"{location.root} is not available: it is missing.", status=503)
        return AppError(f"{name} leads outside your files (a link?), so it is refused.", status=403)
    if error.code == "bad_request":
        return AppError(f"{name} cannot be used here: {error.message}.", status=400)
    return AppError(f"{name}: {error.message}", status=500)


class UserFiles:
    """One user's files through the execution agent (one client, reused per request)."""

    def __init__(self, user) -> None:
        # Files are reached from the web process, which runs beside a console server's agent
        # (the agent passes file descriptors, which cannot cross machines).
        self.client = execution_agent(kind=Server.Kind.CONSOLE)
        self.user = user_ref(user)

    def _call(self, location: Location, method, /, **args):
        try:
            return method(user=self.user, area=location.area, **args)
        except AgentUnavailable:
            raise UNAVAILABLE from None
        except AgentError as error:
            if error.code == "not_found":
                raise NotFound(f"{location.shown_path} does not exist", error.errno) from None
            raise explain(error, location) from None

    def list(self, location: Location) -> list[dict]:
        return self._call(location, self.client.fs_list, path=location.relative)

    def stat(self, location: Location) -> dict:
        return self._call(location, self.client.fs_stat, path=location.relative)

    def open(
        self, location: Location, mode: Literal["r", "w", "x"], *, perm: int | None = None
    ) -> tuple[int, int]:
        """(fd, size) of the file opened as the user; the caller closes fd."""
        return self._call(
            location, self.client.fs_open, path=location.relative, mode=mode, perm=perm
        )

    def mkdir(self, location: Location) -> None:
        self._call(location, self.client.fs_mkdir, path=location.relative)

    def rename(self, source: Location, target: Location, *, replace: bool = False) -> None:
        self._call(
            target, self.client.fs_rename, src=source.relative, dst=target.relative, replace=replace
        )

    def delete(self, location: Location, *, recursive: bool = False) -> None:
        self._call(location, self.client.fs_delete, path=location.relative, recursive=recursive)
