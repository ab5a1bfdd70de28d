"""What every endpoint module shares: the error schema, the documented error statuses, and
the two ways to find whose things a URL names (accounts.access decides, as on the pages)."""

from __future__ import annotations

from django.http import Http404
from ninja import Path, Schema

from accounts.access import owner_or_404


class Error(Schema):
    error: str
    detail: str


class Done(Schema):
    ok: bool
    detail: str


# An id in a URL: a database's bigint, never more (PostgreSQL would refuse the query).
MAX_ID = 2**63 - 1


def an_id():
    return Path(..., ge=1, le=MAX_ID)


# Every operation can be refused for these reasons; declared so the schema tells the truth.
ERRORS = dict.fromkeys((400, 401, 403, 404, 409, 413, 415, 429, 503, 507), Error)


def responses(ok_status: int, ok_schema) -> dict:
    return {ok_status: ok_schema, **ERRORS}


def owner_for(request, username: str):
    """The user the URL names, if the token's user may act on their things (owner or teacher)."""
    return owner_or_404(request.auth, username)


def self_only(request, username: str):
    """The token's own user, if the URL names them: actions the pages give owners only."""
    if username != request.auth.username:
        raise Http404("No such user")
    return request.auth
