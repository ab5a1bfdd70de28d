"""Where a file is, as the Files tab names it: an area (the home or the web directory) and the
components beneath it, parsed from URLs and form fields and refused when hostile.

URLs carry absolute in-sandbox paths without the leading slash: ``home/<username>/...`` for
the home, ``var/www/...`` for the web directory (``/var/www`` is the user's own in every
sandbox, so it needs no username). Anything else, anyone else's home included, is a 404.
The execution agent re-checks every path beneath the area's root on its own (symlinks,
swaps): this module only keeps nonsense from ever reaching it. A path typed into a form
rather than carried by a URL is parsed by accounts.home_paths, under the same byte limits.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from dataclasses import dataclass

from django.http import Http404

from accounts.home_paths import MAX_NAME_BYTES, MAX_PATH_BYTES
from config.errors import AppError

AREA_ROOTS = {"home": "/home/{username}", "www": "/var/www"}


class BadName(AppError):
    """A file or folder name the user typed cannot be used; the message says why."""


@dataclass(frozen=True)
class Location:
    """A file or folder of ``username``: ``parts`` beneath the root of ``area``."""

    username: str
    area: str
    parts: tuple[str, ...] = ()

    @property
    def root(self) -> str:
        """The area's root as the user's sandboxes see it: /home/<username> or /var/www."""
        return AREA_ROOTS[self.area].format(username=self.username)

    @property
    def sandbox_path(self) -> str:
        """The absolute in-sandbox path, e.g. /home/alice/mysite/app.py."""
        return "/".join((self.root, *self.parts))

    @property
    def url_path(self) -> str:
        """The path as URLs carry it: sandbox_path without the leading slash."""
        return self.sandbox_path[1:]

    @property
    def relative(self) -> str:
        """The path beneath the area's root, as the execution agent takes it."""
        return "/".join(self.parts)

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else self.root.rsplit("/", 1)[-1]

    @property
    def shown_name(self) -> str:
        """The name as pages print it: visible even when it is blank or holds a newline."""
        return shown_name(self.name)

    @property
    def suggested_name(self) -> str:
        """What the rename form offers: the name, or a plain-text near-copy of it."""
        return suggested_name(self.name)

    @property
    def shown_path(self) -> str:
        """sandbox_path with each component as pages print it."""
        return "/".join((self.root, *(shown_name(part) for part in self.parts)))

    @property
    def is_root(self) -> bool:
        return not self.parts

    @property
    def parent(self) -> Location:
        return Location(self.username, self.area, self.parts[:-1])

    def child(self, name: str) -> Location:
        return Location(self.username, self.area, (*self.parts, name))

    def sibling(self, name: str) -> Location:
        return self.parent.child(name)

    def crumbs(self) -> list[Location]:
        """The area's root and each folder down to this one, for breadcrumbs."""
        return [
            Location(self.username, self.area, self.parts[:i]) for i in range(len(self.parts) + 1)
        ]


def home_of(user) -> Location:
    return Location(user.username, "home")


def www_of(user) -> Location:
    return Location(user.username, "www")


def parse_location(user, url_path: str, raw_name: str | None = None) -> Location:
    """The location ``url_path`` names in ``user``'s own files; Http404 for anything else.

    ``raw_name`` (a ``raw`` query parameter, see raw_query) names one more component
    beneath it by its bytes: a name that is not UTF-8 cannot be put in a URL's path,
    because the ASGI server decodes the path as UTF-8 and replaces what does not decode.
    """
    if "\0" in url_path or len(url_path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise Http404("No such file or folder")
    components = url_path.strip("/").split("/")
    if components[:2] == ["home", user.username]:
        area, rest = "home", components[2:]
    elif components[:2] == ["var", "www"]:
        area, rest = "www", components[2:]
    else:
        raise Http404("No such file or folder")
    for component in rest:
        try:
            check_name(component)
        except BadName:
            raise Http404("No such file or folder") from None
    if raw_name is not None:
        rest = [*rest, _name_from_raw(raw_name)]
    return Location(user.username, area, tuple(rest))


def raw_query(name: str) -> str:
    """The query string (``?raw=...``) that names ``name`` by its bytes, for parse_location."""
    encoded = base64.urlsafe_b64encode(name.encode("utf-8", "surrogateescape"))
    return "?raw=" + encoded.decode("ascii").rstrip("=")


def _name_from_raw(raw_name: str) -> str:
    try:
        data = base64.urlsafe_b64decode(raw_name + "=" * (-len(raw_name) % 4))
        return check_name(data.decode("utf-8", "surrogateescape"))
    except (binascii.Error, ValueError, BadName):
        raise Http404("No such file or folder") from None


def is_utf8(name: str) -> bool:
    """Whether ``name`` is text: names read from disk carry undecodable bytes as surrogates."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_plain(name: str) -> bool:
    return (
        name.strip() == name
        and name != ""
        and is_utf8(name)
        and not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in name)
    )


def shown_name(name: str) -> str:
    """``name`` as a page can show it: as it is when it is plain text, else in quotes with
    escapes (\\n, \\t, \\xff for a byte that is not UTF-8), so that a name of only
    spaces, a newline or bytes a console made is still a row someone can see and click."""
    if _is_plain(name):
        return name
    shown = []
    for char in name:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            shown.append(f"\\x{code - 0xDC00:02x}")
        elif char == "\\":
            shown.append("\\\\")
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            shown.append(char.encode("unicode_escape").decode("ascii"))
        else:
            shown.append(char)
    return "“" + "".join(shown) + "”"


def suggested_name(name: str) -> str:
    """``name`` made acceptable to check_new_name: each line break, control character or byte
    that is not UTF-8 becomes "_", and blanks at either end go ("renamed" if nothing is left)."""
    cleaned = "".join(
        "_"
        if 0xDC80 <= ord(char) <= 0xDCFF or unicodedata.category(char) in ("Cc", "Zl", "Zp")
        else char
        for char in name
    )
    return cleaned.strip() or "renamed"


def check_name(name: str) -> str:
    """Return ``name`` if it can name one file or folder, else raise BadName saying why."""
    if not name or name in (".", ".."):
        raise BadName("A name cannot be empty, “.” or “..”.")
    if "/" in name:
        raise BadName("A name cannot contain “/”: give just the name, not a path.")
    if "\0" in name:
        raise BadName("A name cannot contain a NUL character.")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise BadName(f"A name can be at most {MAX_NAME_BYTES} bytes long.")
    return name


def check_new_name(name: str) -> str:
    """Return ``name`` if someone may give it to a new file or folder, else raise BadName.

    Stricter than check_name, which must still reach whatever a console already made: a
    name with a line break or of blanks only shows as nothing (or as two lines) in every
    listing, and leading or trailing blanks are invisible but make it a different name.
    """
    check_name(name)
    if not name.strip():
        raise BadName("A name cannot be only spaces.")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in name):
        raise BadName(
            "A name cannot contain a line break, a tab or another invisible control character."
        )
    if name.strip() != name:
        raise BadName("A name cannot start or end with a space.")
    if not is_utf8(name):
        raise BadName("A name must be text (UTF-8).")
    return name
