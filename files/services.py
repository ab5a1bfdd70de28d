"""Writes for files: homes and quotas on the file server, and changes to a user's files made
through the execution agent, as the user.

No service here writes Warren's database but for the record of where every home was last
bound (``HomeMountsBound``, one row per execution server), so none opens a transaction; the
file server and the execution agent make each of their operations idempotent or atomic on
their side.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.http import Http404

from accounts.models import User
from config.errors import AppError
from files import fileserver, mounts
from files.agent import OVER_QUOTA_MESSAGE, UserFiles
from files.models import HomeMountsBound, HomeMove
from files.paths import Location, check_new_name
from files.selectors import (
    StorageUsage,
    existing_file_is_binary,
    snapshot_problem,
    storage_quota_for,
    storage_quotas_for_server,
    storage_usage,
    users_over_soft_limit,
)
from files.units import format_bytes
from fileserver_agent.client import FileserverError, Home, QuotaLimits

logger = logging.getLogger(__name__)

# A batch for tens of thousands of users can take setquota a while on ext4.
REAPPLY_TIMEOUT_SECONDS = 600
# Names of files being written aside; dot-named so listings and shells keep them quiet.
TEMPORARY_PREFIX = ".warren-"


# --- homes and quotas (the file server) ---------------------------------------------------


def home_create(*, user) -> Home:
    """Create (or confirm) the user's home and web directory, then apply their disk quota."""
    home = fileserver.create_home(user)
    storage_quota_apply(user=user)
    for failure in home_mounts_sync(user=user):
        logger.warning("home_create %s: %s", user.username, failure)
    return home


def home_mounts_sync(*, user) -> list[str]:
    """Bind the user's home (and web directory, with www mounts) from their file server on every
    execution server (several file servers only; safe to repeat: a bind already right is left
    alone); failures, as text."""
    if not mounts.configured() or user.file_server_id is None:
        return []
    failures = []
    for server in mounts.home_servers():
        failure = _home_mount_on(server, user, user.file_server)
        if failure:
            failures.append(failure)
    return failures


def home_mounts_server_sync(*, server) -> list[str]:
    """Bind every user's home (and web directory, with www mounts) from their file server on
    ``server`` alone (safe to repeat); failures, as text."""
    if not mounts.configured():
        return []
    failures = []
    pks = User.objects.filter(file_server__isnull=False).order_by("pk").values_list("pk", flat=True)
    for pk in pks.iterator():
        # Read again just before the bind, so a move that switched the user since the list was
        # read is not undone here; a move switching now binds the user everywhere itself.
        user = (
            User.objects.filter(pk=pk, file_server__isnull=False)
            .exclude(home_moves__state=HomeMove.State.SWITCHING)
            .select_related("file_server")
            .first()
        )
        if user is not None and (failure := _home_mount_on(server, user, user.file_server)):
            failures.append(f"{user.username}: {failure}")
    return failures


def home_mounts_restore(*, server) -> bool:
    """Bind every home on ``server`` again if its agent restarted or its machine rebooted since
    they were last all bound there (or they never were); whether it bound them all now."""
    try:
        identity = mounts.agent_identity(server)
    except (mounts.AgentError, mounts.AgentUnavailable) as error:
        logger.warning("home mounts on %s: its agent did not answer (%s); next time", server, error)
        return False
    recorded = HomeMountsBound.objects.filter(server=server).first()
    if recorded is not None and (recorded.boot_id, recorded.agent_started) == identity:
        return False
    failures = home_mounts_server_sync(server=server)
    if failures:
        # Not recorded: the next check binds them all again.
        logger.error(
            "home mounts on %s: %d binds failed, retried next time; first: %s",
            server,
            len(failures),
            failures[0],
        )
        return False
    boot_id, agent_started = identity
    HomeMountsBound.objects.update_or_create(
        server=server, defaults={"boot_id": boot_id, "agent_started": agent_started}
    )
    logger.info("home mounts on %s: every home bound (agent %s)", server, agent_started)
    return True


def _home_mount_on(server, user, file_server) -> str | None:
    """Bind the user's home from ``file_server`` on ``server``; the failure as text, if any.

    A failure forgets that every home is bound there, so beat's next check binds them all.
    """
    try:
        mounts.home_mount_set(server, user, file_server)
    except (mounts.AgentError, mounts.AgentUnavailable, AppError) as error:
        HomeMountsBound.objects.filter(server=server).delete()
        return f"{server}: {getattr(error, 'message', error)}"
    return None


def home_mounts_switch(*, user, source, target) -> int:
    """Show ``target``'s copy of the home (and web directory, with www mounts) on every
    execution server instead of ``source``'s.

    All or nothing: on a failure the servers switched already are switched back and AppError
    says where it failed. Returns how many servers were switched.
    """
    done = []
    for server in mounts.home_servers():
        try:
            mounts.home_mount_set(server, user, target)
        except (mounts.AgentError, mounts.AgentUnavailable, AppError) as error:
            for switched in reversed(done):
                if undo := _home_mount_on(switched, user, source):
                    logger.error("home of %s not switched back: %s", user, undo)
            raise AppError(
                f"The home could not be switched on {server}: {getattr(error, 'message', error)}"
            ) from error
        done.append(server)
    return len(done)


def storage_quota_apply(*, user) -> QuotaLimits:
    """Send the user's current disk limits to their file server (safe to repeat)."""
    quota = storage_quota_for(user)
    return fileserver.set_quota(user, soft_bytes=quota.soft_bytes, hard_bytes=quota.hard_bytes)


def storage_quotas_reapply(*, server) -> int:
    """Send every quota of ``server``'s users in one batch; returns how many were applied."""
    quotas = storage_quotas_for_server(server)
    if not quotas:
        return 0
    return fileserver.set_quotas(server, quotas, timeout=REAPPLY_TIMEOUT_SECONDS)


def storage_over_quota_notify() -> int:
    """Mail staff the users at or past their soft limit (the seed's over-quota alerts).

    Returns how many users were listed; nothing is sent when there are none.
    """
    over, unreachable = users_over_soft_limit()
    if not over and not unreachable:
        return 0
    recipients = list(
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        logger.warning("%d users are over their storage quota, and no staff to tell", len(over))
        return len(over)
    lines = [f"{item.user.username}: {item.usage.text}" for item in over]
    if unreachable:
        names = ", ".join(unreachable)
        lines.append(f"\nFile servers not answering (their users are not listed): {names}")
    send_mail(
        subject=f"{settings.WARREN_SITE_NAME}: {len(over)} users at or over their storage quota",
        message="Users at or past their soft storage limit today:\n\n" + "\n".join(lines) + "\n",
        from_email=None,
        recipient_list=recipients,
    )
    return len(over)


# --- the user's files (the execution agent, as the user) ----------------------------------


def folder_create(*, user, parent: Location, name: str) -> Location:
    """Create one folder named ``name`` in ``parent``."""
    location = parent.child(check_new_name(name))
    UserFiles(user).mkdir(location)
    return location


def file_create(*, user, parent: Location, name: str) -> Location:
    """Create an empty file named ``name`` in ``parent`` (refused if anything has that name)."""
    location = parent.child(check_new_name(name))
    fd, _ = UserFiles(user).open(location, "x")
    os.close(fd)
    return location


def entry_rename(*, user, location: Location, new_name: str) -> Location:
    """Give a file or folder a new name in the same folder, never overwriting another."""
    if location.is_root:
        raise AppError(f"{location.shown_path} itself cannot be renamed.", status=403)
    target = location.sibling(check_new_name(new_name))
    if target != location:
        UserFiles(user).rename(location, target, replace=False)
    return target


def entry_delete(*, user, location: Location) -> None:
    """Delete a file, a link, or a folder with everything in it."""
    if location.is_root:
        raise AppError(f"{location.shown_path} itself cannot be deleted.", status=403)
    UserFiles(user).delete(location, recursive=True)


def file_save(*, user, location: Location, content: bytes) -> int:
    """Replace a text file's contents (or create it), atomically; returns the new size.

    The text is written to a new file beside it (with the old file's permission bits) and
    renamed over it, so a failure half-way (quota, a lost connection) leaves the old
    contents exactly as they were.
    """
    limit = settings.WARREN_EDITOR_MAX_BYTES
    if len(content) > limit:
        raise AppError(f"The editor saves files of up to {format_bytes(limit)}.", status=413)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise AppError("Only UTF-8 text can be saved from the editor.", status=400) from None
    if location.is_root:
        raise AppError(f"{location.shown_path} is a folder, not a file.", status=400)
    files = UserFiles(user)
    current = _current_text_file(files, location)
    grow = len(content) - (current["size"] if current else 0)
    if grow > 0:
        refuse_over_quota(storage_usage(user=user), grow, unknown_ok=True)
    _replace(files, location, content, current)
    return len(content)


def file_write(*, user, location: Location, content: bytes) -> int:
    """Replace any file's contents (or create it) with ``content``, atomically, as file_save
    does but for any bytes (the API's and the `warren` command's put); returns the size."""
    if location.is_root:
        raise AppError(f"{location.shown_path} is a folder, not a file.", status=400)
    files = UserFiles(user)
    try:
        current = files.stat(location)
    except Http404:
        current = None
    if current is not None and current["type"] != "file":
        raise AppError(f"{location.shown_path} is not a regular file.", status=400)
    grow = len(content) - (current["size"] if current else 0)
    if grow > 0:
        # Unbounded by the editor's limit: an unknown usage refuses, as uploads do.
        refuse_over_quota(storage_usage(user=user), grow, unknown_ok=False)
    _replace(files, location, content, current)
    return len(content)


def _replace(files: UserFiles, location: Location, content: bytes, current: dict | None) -> None:
    # Written beside it (with the old file's permission bits) and renamed over it: a failure
    # half-way (quota, a lost connection) leaves the old contents exactly as they were.
    temporary = location.sibling(temporary_name("save"))
    fd, _ = files.open(temporary, "x", perm=current["mode"] if current else None)
    try:
        try:
            write_all(fd, content)
        finally:
            close_checked(fd)
        files.rename(temporary, location, replace=True)
    except BaseException:
        discard(files, temporary)
        raise


def _current_text_file(files: UserFiles, location: Location) -> dict | None:
    try:
        current = files.stat(location)
    except Http404:
        return None
    if current["type"] == "dir":
        raise AppError(f"{location.shown_path} is a folder, not a file.", status=400)
    if current["type"] == "symlink":
        raise AppError(
            f"{location.shown_path} is a link: open the file it points to and save that.",
            status=400,
        )
    if current["type"] != "file":
        raise AppError(f"{location.shown_path} is not a regular file.", status=400)
    if existing_file_is_binary(files=files, location=location):
        raise AppError(
            f"{location.shown_path} is a binary file: it can be downloaded, not edited.", status=400
        )
    return current


# --- uploads --------------------------------------------------------------------------------


@dataclass
class StagedUpload:
    """An uploaded file written completely under a temporary name, waiting to be named."""

    name: str
    temporary: Location
    size: int = 0
    committed: bool = False

    def close(self) -> None:
        """Nothing to close (the fd is closed when the file completes); Django calls this."""


def uploads_commit(*, user, directory: Location, staged: list[StagedUpload]) -> list[str]:
    """Rename complete uploads into place, replacing files of the same name.

    Every name is checked before any rename, so an upload colliding with a folder refuses
    the whole batch rather than leaving half of it in place.
    """
    files = UserFiles(user)
    for upload in staged:
        target = directory.child(upload.name)
        try:
            kind = files.stat(target)["type"]
        except Http404:
            continue
        if kind != "file":
            raise AppError(
                f"{target.shown_path} exists and is not a file, so nothing was uploaded.",
                status=409,
            )
    for upload in staged:
        files.rename(upload.temporary, directory.child(upload.name), replace=True)
        upload.committed = True
    return [upload.name for upload in staged]


def uploads_discard(*, user, staged: list[StagedUpload]) -> None:
    """Delete the temporary files of uploads that were not committed (refused, failed)."""
    files = None
    for upload in staged:
        if not upload.committed:
            files = files or UserFiles(user)
            discard(files, upload.temporary)


# --- helpers shared with the upload handler -----------------------------------------------


def temporary_name(purpose: str) -> str:
    return f"{TEMPORARY_PREFIX}{purpose}-{secrets.token_hex(8)}"


def over_quota_message(usage: StorageUsage, extra_bytes: int) -> str:
    return (
        f"That would go over your disk quota ({format_bytes(extra_bytes)} more): "
        f"{usage.text}. Nothing was written."
    )


def refuse_over_quota(usage: StorageUsage | None, extra_bytes: int, *, unknown_ok: bool) -> None:
    """Raise AppError if ``extra_bytes`` more would go over the user's quota.

    With the du backend nothing else enforces the limit, so an unknown usage (file server
    unreachable) refuses unless the caller's writes are small and bounded (``unknown_ok``).
    """
    if usage is None:
        if unknown_ok:
            return
        raise AppError(
            "Your disk usage cannot be checked right now (the file server is not answering), "
            "so uploads are paused. Please try again in a moment.",
            status=503,
        )
    if usage.would_exceed(extra_bytes):
        raise AppError(over_quota_message(usage, extra_bytes), status=413)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``; a full disk or quota becomes a AppError."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as error:
        raise _write_failed(error) from None


def close_checked(fd: int) -> None:
    """Close ``fd``, reporting a failure: network filesystems report a full quota at close."""
    try:
        os.close(fd)
    except OSError as error:
        raise _write_failed(error) from None


def _write_failed(error: OSError) -> AppError:
    if error.errno == errno.EDQUOT:
        return AppError(OVER_QUOTA_MESSAGE, status=413)
    return AppError(f"Writing failed: {error.strerror}. Nothing was changed.", status=507)


def discard(files: UserFiles, location: Location) -> None:
    """Delete a temporary file, quietly: it may never have been created."""
    with contextlib.suppress(Exception):
        files.delete(location)


# --- last night's copy (the file server, as the user) --------------------------------------


def snapshot_restore(*, user, location: Location, new_name: str) -> Location:
    """Copy ``location`` from last night's copy to ``new_name`` beside where it was.

    Never over anything: a name in use is refused. The whole home (the root) is restored
    into a new folder in it.
    """
    if location.area != "home":
        raise Http404("Only the home is copied each night")
    name = check_new_name(new_name)
    target = location.child(name) if location.is_root else location.sibling(name)
    try:
        fileserver.snapshot_restore(user, path=location.relative, target=target.relative)
    except FileserverError as error:
        raise snapshot_problem(error, location) from error
    return target
