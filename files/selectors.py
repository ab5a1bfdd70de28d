"""Reads for the Files tab: quotas owed, disk usage, directory listings, files to edit."""

from __future__ import annotations

import codecs
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse

from accounts.limits import effective_limits
from accounts.models import User
from config.errors import AppError
from files import fileserver
from files.agent import UserFiles
from files.fileserver import PAGE_TIMEOUT_SECONDS
from files.paths import Location, is_utf8, raw_query, shown_name
from files.units import format_bytes
from fileserver_agent.client import FileserverError, FileserverResponseError, QuotaLimits

logger = logging.getLogger(__name__)

BINARY_SNIFF_BYTES = 8192
# The agent lists at most this many entries of one folder (PROTOCOL.md, fs_list).
AGENT_MAX_ENTRIES = 10000
# Characters reverse() leaves unquoted in a <path:...> segment; names never hold "/".
_URL_SAFE = "!$&'()*+,;=~:@"


# --- quotas and usage --------------------------------------------------------------------


def storage_quota_for(user) -> QuotaLimits:
    """The disk limits the user's file server should enforce for them (0: no limit).

    Soft and hard are the same: the plan's figure is what Warren promises and refuses
    uploads beyond, so there is no grace band in which the kernel and Warren disagree.
    """
    disk_bytes = effective_limits(user).disk_bytes
    return QuotaLimits(uid=user.uid, soft_bytes=disk_bytes, hard_bytes=disk_bytes)


def storage_quotas_for_server(server) -> list[QuotaLimits]:
    """Every quota owed by the users whose homes are on ``server``, in two queries."""
    users = (
        User.objects.filter(file_server=server)
        .select_related("plan", "custom_limits")
        .order_by("pk")
    )
    return [storage_quota_for(user) for user in users.iterator(chunk_size=2000)]


@dataclass(frozen=True)
class StorageUsage:
    """What a user's files take on disk beside what their plan allows (0: no limit)."""

    used_bytes: int
    limit_bytes: int

    @property
    def percent(self) -> int:
        return round(100 * self.used_bytes / self.limit_bytes) if self.limit_bytes else 0

    @property
    def bar_percent(self) -> int:
        return min(self.percent, 100)

    @property
    def danger(self) -> bool:
        return self.percent > 90

    @property
    def over(self) -> bool:
        """At or past the limit: the kernel (btrfs, ext4) refuses writes, uploads are refused."""
        return bool(self.limit_bytes) and self.used_bytes >= self.limit_bytes

    @property
    def banner(self) -> str:
        """The warning the Dashboard and the Files tab show, or "" below 90%."""
        if self.over:
            return (
                f"You are over your storage quota ({self.text}): new files and bigger files "
                "cannot be written until you delete something or move to a plan with more space."
            )
        if self.danger:
            return (
                f"Your storage is nearly full ({self.text}): writes will be refused once you "
                "reach your quota."
            )
        return ""

    @property
    def text(self) -> str:
        """E.g. '312 MiB used of 512 MiB (61%)'."""
        if not self.limit_bytes:
            return f"{format_bytes(self.used_bytes)} used"
        return (
            f"{format_bytes(self.used_bytes)} used of {format_bytes(self.limit_bytes)} "
            f"({self.percent}%)"
        )

    def would_exceed(self, extra_bytes: int) -> bool:
        """Whether ``extra_bytes`` more would take the user over their limit."""
        return bool(self.limit_bytes) and self.used_bytes + extra_bytes > self.limit_bytes


def storage_usage(*, user) -> StorageUsage | None:
    """The user's disk usage from their file server; None when it cannot be had right now."""
    try:
        usage = fileserver.get_usage(user, timeout=PAGE_TIMEOUT_SECONDS)
    except FileserverError as error:
        logger.warning("disk usage of %s (uid %d) unavailable: %s", user, user.uid, error)
        return None
    # The plan in the database is the promise; the agent's recorded limit can lag behind a
    # plan change by the length of a retry, so the page (and the upload check) follow the plan.
    return StorageUsage(used_bytes=usage.used_bytes, limit_bytes=storage_quota_for(user).hard_bytes)


@dataclass(frozen=True)
class OverQuota:
    """A user at or past their soft limit, for the staff's daily list."""

    user: User
    usage: StorageUsage


def users_over_soft_limit() -> tuple[list[OverQuota], list[str]]:
    """Users at or past their soft limit on every file server, and the servers not answering.

    One usage request per user with a limit: cheap on btrfs and ext4 (the kernel's counters),
    a cached scan on du; run once a day.
    """
    over: list[OverQuota] = []
    unreachable: dict[int | None, str] = {}
    users = User.objects.filter(is_active=True).select_related(
        "plan", "custom_limits", "file_server"
    )
    for user in users.order_by("username").iterator(chunk_size=2000):
        soft = storage_quota_for(user).soft_bytes
        if not soft or user.file_server_id in unreachable:
            continue
        try:
            usage = fileserver.get_usage(user)
        except FileserverError as error:
            logger.warning("over-quota list: usage of %s unavailable: %s", user, error)
            unreachable[user.file_server_id] = str(user.file_server or "the local file server")
            continue
        if usage.used_bytes >= soft:
            over.append(OverQuota(user, StorageUsage(usage.used_bytes, soft)))
    return over, sorted(unreachable.values())


# --- listings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One row of a folder listing: what the page prints, and the URLs of its actions."""

    name: str
    shown_name: str  # the name as printed: quoted, with escapes, when it is not plain text
    kind: str  # dir, file, symlink, other
    size_text: str  # "" for folders
    modified_iso: str
    modified_text: str
    url: str  # where clicking the name goes ("" for things that cannot be opened)
    download_url: str
    rename_url: str
    delete_url: str

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    @property
    def opens_after_rename(self) -> bool:
        """Whether the name (not UTF-8) keeps it from being opened here until it is renamed."""
        return not is_utf8(self.name)


@dataclass(frozen=True)
class Listing:
    """One page of a folder's entries (folders first, then by name, ignoring case)."""

    location: Location
    entries: list[Entry]
    total: int
    page: int
    pages: int
    first_number: int  # of the page's first entry, counting from 1
    truncated: bool  # the agent stopped at AGENT_MAX_ENTRIES: the folder holds more

    @property
    def last_number(self) -> int:
        return self.first_number + len(self.entries) - 1


def directory_listing(*, user, location: Location, page: int = 1) -> Listing:
    """A page of the folder's entries, each with where its name links to."""
    raw = UserFiles(user).list(location)
    return build_listing(location, raw, page=page, truncated=len(raw) >= AGENT_MAX_ENTRIES)


def build_listing(
    location: Location, raw: list[dict], *, page: int = 1, truncated: bool = False
) -> Listing:
    """Sort the agent's entries and shape one page of them for the template.

    Only the page's rows are shaped (a folder may hold 10,000 entries), and everything a
    row prints is formatted here: Django's template engine is the slow part of a listing.
    """
    ordered = sorted(raw, key=lambda item: (item["type"] != "dir", item["name"].lower()))
    pages = max(1, -(-len(ordered) // LISTING_PAGE_SIZE))
    page = min(max(page, 1), pages)
    first = (page - 1) * LISTING_PAGE_SIZE
    # reverse() once per kind of link, not per row.
    prefixes = {name: _url_prefix(name, location) for name in URL_NAMES}
    entries = [_entry(item, prefixes) for item in ordered[first : first + LISTING_PAGE_SIZE]]
    return Listing(location, entries, len(ordered), page, pages, first + 1, truncated)


LISTING_PAGE_SIZE = 500
URL_NAMES = ("browse", "edit", "download", "rename", "delete")


def _entry(item: dict, prefixes: dict[str, str]) -> Entry:
    kind = item["type"]
    if not is_utf8(item["name"]):
        # Bytes that are not UTF-8 (a console made the name) cannot travel in a URL's path:
        # the name goes in a query parameter instead, and such an entry can be downloaded,
        # renamed or deleted but not opened until it is renamed.
        quoted, url = raw_query(item["name"]), ""
    else:
        quoted = quote(item["name"], safe=_URL_SAFE)
        if kind in ("dir", "symlink"):
            # A symlink's target kind is unknown here; browse sends a file on to the editor.
            url = f"{prefixes['browse']}{quoted}/"
        elif kind == "file":
            url = f"{prefixes['edit']}{quoted}"
        else:
            url = ""
    modified = datetime.fromtimestamp(item["mtime"], tz=UTC)
    return Entry(
        name=item["name"],
        shown_name=shown_name(item["name"]),
        kind=kind,
        size_text="" if kind == "dir" else format_bytes(item["size"]),
        modified_iso=modified.isoformat(timespec="seconds"),
        modified_text=modified.strftime("%Y-%m-%d %H:%M"),
        url=url,
        download_url=f"{prefixes['download']}{quoted}" if kind == "file" else "",
        rename_url=f"{prefixes['rename']}{quoted}",
        delete_url=f"{prefixes['delete']}{quoted}",
    )


def _url_prefix(url_name: str, location: Location) -> str:
    """The URL of ``url_name`` for an entry of ``location``, without the entry's name."""
    return reverse(f"files:{url_name}", kwargs={"path": location.url_path + "/x"})[:-1]


# --- the editor ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EditableFile:
    """A file opened for the editor: its text, or why it cannot be edited here."""

    location: Location
    size: int
    text: str | None
    refusal: str = ""


def is_binary(data: bytes, *, complete: bool) -> bool:
    """Whether ``data`` (a file's start, or all of it) is not UTF-8 text."""
    if b"\0" in data:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError:
        return True
    return False


def file_for_editing(*, user, location: Location) -> EditableFile:
    """Read a file through the agent for the editor; binary and huge files are refused."""
    fd, size = UserFiles(user).open(location, "r")
    with os.fdopen(fd, "rb") as handle:
        limit = settings.WARREN_EDITOR_MAX_BYTES
        if size > limit:
            return EditableFile(
                location,
                size,
                None,
                f"This file is larger than {format_bytes(limit)}, "
                "the most the editor opens: download it instead.",
            )
        data = handle.read(limit + 1)
    if len(data) > limit:
        return EditableFile(location, len(data), None, "This file grew too large to edit.")
    if is_binary(data, complete=True):
        return EditableFile(
            location, size, None, "This is a binary file: it can be downloaded, not edited."
        )
    return EditableFile(location, size, data.decode("utf-8"))


def existing_file_is_binary(*, files: UserFiles, location: Location) -> bool:
    """Whether the file already at ``location`` starts with something that is not text."""
    fd, _ = files.open(location, "r")
    with os.fdopen(fd, "rb") as handle:
        return is_binary(handle.read(BINARY_SNIFF_BYTES), complete=False)


def file_tree(*, user, location: Location, max_entries: int = 1000) -> tuple[list[str], bool]:
    """Every path beneath ``location`` (folders end in "/"), breadth first, and whether the
    walk stopped at ``max_entries``. Links are listed, not followed (no loops, no escapes)."""
    files = UserFiles(user)
    found: list[str] = []
    folders = [location]
    while folders:
        folder = folders.pop(0)
        for item in sorted(files.list(folder), key=lambda item: item["name"]):
            child = folder.child(item["name"])
            if len(found) >= max_entries:
                return found, True
            if item["type"] == "dir":
                found.append(child.sandbox_path + "/")
                folders.append(child)
            else:
                found.append(child.sandbox_path)
    return found, False


# --- last night's copy (the file server's snapshot) ----------------------------------------


@dataclass(frozen=True)
class SnapshotEntry:
    """One row of a folder of last night's copy."""

    location: Location  # where it was (and is named in URLs), in the home
    shown_name: str
    kind: str  # dir, file, symlink, other
    size_text: str
    modified_text: str
    suggested_name: str  # what "Restore as" offers: beside the original, never over it

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    @property
    def restorable(self) -> bool:
        return self.kind in ("dir", "file")


@dataclass(frozen=True)
class SnapshotFolder:
    """A folder of last night's copy, and when the copy was taken (None: not recorded)."""

    entries: list[SnapshotEntry]
    taken: datetime | None
    since: datetime | None  # every change made before this is in the copy


def snapshot_listing(*, user, location: Location) -> SnapshotFolder:
    """The entries of ``location``'s folder in last night's copy, folders first."""
    try:
        answer = fileserver.snapshot_list(user, path=location.relative)
    except FileserverError as error:
        raise snapshot_problem(error, location) from error
    ordered = sorted(answer["entries"], key=lambda item: (item["type"] != "dir", item["name"]))
    stamp = answer.get("copy") or {}
    return SnapshotFolder(
        entries=[_snapshot_entry(location, item) for item in ordered],
        taken=_moment(stamp.get("taken")),
        since=_moment(stamp.get("since")),
    )


def _moment(value) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int | float) else None


def _snapshot_entry(folder: Location, item: dict) -> SnapshotEntry:
    modified = datetime.fromtimestamp(item["mtime"], tz=UTC)
    stem, dot, extension = item["name"].rpartition(".")
    restored = f"{stem} (restored).{extension}" if dot and stem else f"{item['name']} (restored)"
    return SnapshotEntry(
        location=folder.child(item["name"]),
        shown_name=shown_name(item["name"]),
        kind=item["type"],
        size_text="" if item["type"] == "dir" else format_bytes(item["size"]),
        modified_text=modified.strftime("%Y-%m-%d %H:%M"),
        suggested_name=restored,
    )


def snapshot_problem(error: FileserverError, location: Location) -> AppError:
    """The file server's refusal about last night's copy, in the Files tab's words."""
    code = error.code if isinstance(error, FileserverResponseError) else "unreachable"
    shown = location.shown_path
    if code == "no_snapshot":
        return AppError("There is no copy of last night's files on your file server.", status=404)
    if code == "not_found" or code == "conflict":
        return AppError(f"{shown} is not in last night's copy.", status=404)
    if code == "no_folder":
        return AppError(
            f"The folder {location.parent.shown_path} is not there any more: restore it first.",
            status=404,
        )
    if code == "exists":
        return AppError(
            "Something already has that name: choose another.", field="name", status=409
        )
    if code == "outside":
        return AppError(f"{shown} leads outside your home through a link.", status=403)
    if code == "copy_failed":
        return AppError(
            f"{shown} could not be copied whole ({error.detail}); nothing was restored.", status=422
        )
    if code == "bad_request":
        return AppError(f"{shown} cannot be restored: {error.detail}.", status=400)
    return AppError("Your file server is not answering; try again in a minute.", status=503)
