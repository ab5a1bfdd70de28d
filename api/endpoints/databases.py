"""Databases (the Databases tab): list, create, delete; the user's own only, as on the page."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema, Status

from api.endpoints.common import Done, an_id, responses, self_only
from api.errors import ApiError
from databases import selectors, services

router = Router(tags=["databases"])


class DatabaseOut(Schema):
    id: int
    kind: str
    name: str
    state: str
    created_at: datetime


class DatabaseIn(Schema):
    kind: str
    name: str


class DeleteIn(Schema):
    confirmation: str


def _out(database, kind: str) -> dict:
    return {
        "id": database.pk,
        "kind": kind,
        "name": database.name,
        "state": database.state,
        "created_at": database.created_at,
    }


@router.get("{username}/databases/", response=responses(200, list[DatabaseOut]))
def database_list(request, username: str):
    owner = self_only(request, username)
    return [
        _out(database, kind)
        for kind, section in selectors.database_sections(owner).items()
        for database in section.databases
    ]


@router.post("{username}/databases/", response=responses(201, DatabaseOut))
def database_create(request, username: str, body: DatabaseIn):
    """Create a database (provisioned in the background: its state says when it is ready)."""
    owner = self_only(request, username)
    database = services.database_create(user=owner, kind=body.kind, name=body.name)
    return Status(201, _out(database, database.account.server.kind))


@router.post("{username}/databases/{database_id}/delete/", response=responses(200, Done))
def database_delete(request, username: str, body: DeleteIn, database_id: int = an_id()):
    """Drop a database; ``confirmation`` must be its name, as on the page."""
    owner = self_only(request, username)
    database = selectors.database_of(owner, database_id)
    if database is None:
        raise ApiError(404, "No such database")
    services.database_delete(database=database, confirmation=body.confirmation)
    return {"ok": True, "detail": f"Deleting {database.name}."}
