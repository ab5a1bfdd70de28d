"""Files in the home: read, write (text), delete, and the tree beneath a folder.

A path in the URL goes through accounts.home_paths (".." refused, never resolved; inside the
owner's home) and files.paths (each name checked); the execution agent then opens it as the
owner beneath the home, whatever Django checked.
"""

from __future__ import annotations

import os

from django.http import FileResponse
from ninja import Router, Schema

from accounts.access import access_record
from accounts.home_paths import home_path_parse
from api.endpoints.common import Done, owner_for, responses
from files import selectors, services
from files.agent import UserFiles
from files.paths import Location, parse_location

router = Router(tags=["files"])

BYTES_RESPONSE = {
    "responses": {
        200: {
            "description": "The file's contents.",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    }
}
BYTES_BODY = {
    "requestBody": {
        "description": "The new contents, any bytes (up to WARREN_API_MAX_BODY_BYTES).",
        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
    }
}


class TreeOut(Schema):
    path: str
    entries: list[str]
    truncated: bool


def _locate(request, username: str, path: str) -> tuple:
    owner = owner_for(request, username)
    normal = home_path_parse(owner, "/" + path.lstrip("/"), what="path")
    return owner, parse_location(owner, normal[1:])


def _record(request, owner, action: str, location: Location) -> None:
    access_record(actor=request.auth, owner=owner, action=action, target=location.shown_path)


@router.get(
    "{username}/files/path/{path:path}", response=responses(200, None), openapi_extra=BYTES_RESPONSE
)
def file_read(request, username: str, path: str):
    """A file's contents (application/octet-stream), streamed as the Files tab's download."""
    owner, location = _locate(request, username, path)
    fd, size = UserFiles(owner).open(location, "r")
    _record(request, owner, "downloaded", location)
    # Never sniffed, never inline HTML: a user's file must not run on Warren's origin.
    response = FileResponse(os.fdopen(fd, "rb"), content_type="application/octet-stream")
    response["Content-Length"] = str(size)
    return response


@router.post(
    "{username}/files/path/{path:path}", response=responses(200, Done), openapi_extra=BYTES_BODY
)
def file_write(request, username: str, path: str):
    """Create or replace a file with the request's body (any bytes, replaced atomically)."""
    owner, location = _locate(request, username, path)
    size = services.file_write(user=owner, location=location, content=request.body)
    _record(request, owner, "saved", location)
    return {"ok": True, "detail": f"Saved {location.sandbox_path} ({size} bytes)."}


@router.delete("{username}/files/path/{path:path}", response=responses(200, Done))
def file_delete(request, username: str, path: str):
    """Delete a file, a link, or a folder with everything in it."""
    owner, location = _locate(request, username, path)
    services.entry_delete(user=owner, location=location)
    _record(request, owner, "deleted", location)
    return {"ok": True, "detail": f"Deleted {location.sandbox_path}."}


@router.get("{username}/files/tree/", response=responses(200, TreeOut))
def file_tree(request, username: str, path: str = ""):
    """Every file and folder beneath ``path`` (default: the home); folders end in "/"."""
    owner = owner_for(request, username)
    normal = home_path_parse(owner, path or owner.home_path, what="path")
    location = parse_location(owner, normal[1:])
    entries, truncated = selectors.file_tree(user=owner, location=location)
    return {"path": location.sandbox_path, "entries": entries, "truncated": truncated}
