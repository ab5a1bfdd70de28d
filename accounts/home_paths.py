"""A path a user typed that must lie inside their home: one parser, one set of rules.

Consoles (a launcher's folder, Save and Run's file) and the Web tab (source code, working
directory, virtualenv, static files) take such paths as form fields; the Files tab names the
same places by URL as a ``files.paths.Location``, under the same byte limits. Nothing here
looks at the disk: the execution agent re-checks every path as the user (symlinks, swaps).

The rules, in the order they are applied:

- blanks around the path are dropped;
- a NUL, more than MAX_PATH_BYTES bytes, or a component of more than MAX_NAME_BYTES bytes
  is not a path;
- "" and "~" are the home; "~/x", "x" (relative) and "/home/<username>/x" are beneath it;
- "." and empty components are dropped; ".." anywhere is refused, never resolved;
- the result is the home or beneath it, else refused.
"""

from __future__ import annotations

from config.errors import AppError

MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def home_path_parse(user, raw: str, *, what: str = "folder", field: str | None = None) -> str:
    """``raw`` as a normalised absolute in-sandbox path inside ``user``'s home.

    Raises AppError (on ``field``) naming ``what`` the path was for.
    """
    home = user.home_path
    path = (raw or "").strip()
    if "\0" in path or _bytes(path) > MAX_PATH_BYTES:
        raise AppError("That is not a valid path.", field=field)
    if path in ("", "~"):
        return home
    if path.startswith("~/"):
        path = path[2:]
    absolute = path if path.startswith("/") else f"{home}/{path}"
    parts = [part for part in absolute.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise AppError(f"The {what} may not contain '..'.", field=field)
    if any(_bytes(part) > MAX_NAME_BYTES for part in parts):
        raise AppError("That is not a valid path.", field=field)
    normal = "/" + "/".join(parts)
    if normal != home and not normal.startswith(home + "/"):
        raise AppError(f"The {what} must be inside your home directory, {home}.", field=field)
    return normal


def home_path_relative(user, path: str) -> str:
    """A path home_path_parse returned, as the execution agent takes it: beneath the home."""
    return path[len(user.home_path) :].lstrip("/")


def _bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))
