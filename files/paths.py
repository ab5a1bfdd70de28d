"""Where a file is, as the Files tab names it: an area (the home or the web directory) and the
components beneath it, parsed from URLs and form fields and refused when hostile.

URLs carry absolute in-sandbox paths without the leading slash: ``home/<username>/...`` for
the home, ``var/www/...`` for the web directory (``/var/www`` is the user's own in every
sandbox, so it needs no username). Anything else, anyone else's home included, is a 404.
The execution agent re-checks every path beneath the area's root on its own (symlinks,
swaps): this module only keeps nonsense from ever reaching it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from files.problems import BadName

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
AREA_ROOTS = {"home": "/home/{username}", "www": "/var/www"}


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


def parse_location(user, url_path: str) -> Location:
    """The location ``url_path`` names in ``user``'s own files; Http404 for anything else."""
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
    return Location(user.username, area, tuple(rest))


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
