"""Consoles: list, start, read the screen, type, kill, and the ones shared with you."""

from __future__ import annotations

from datetime import datetime

from django.http import Http404
from ninja import Field, Router, Schema, Status

from accounts.access import access_record
from api.endpoints.common import Done, owner_for, responses, self_only
from config.errors import AppError
from consoles import selectors, services
from consoles.models import Console
from consoles.services.consoles import MAX_INPUT_CHARS

router = Router(tags=["consoles"])


class ConsoleOut(Schema):
    id: str
    owner: str
    kind: str
    title: str
    state: str
    created_at: datetime
    read_only: bool = False


class ConsoleIn(Schema):
    kind: str = Field("bash", description="bash, python, ipython")
    python_version: str = Field("", max_length=16, description="for kind=python, e.g. 3.11")


class InputIn(Schema):
    input: str = Field(..., max_length=MAX_INPUT_CHARS, description="typed as keys; \\n is Enter")


class OutputOut(Schema):
    output: str


def _out(console: Console, *, read_only: bool = False) -> dict:
    return {
        "id": console.pk,
        "owner": console.owner.username,
        "kind": console.kind,
        "title": console.title,
        "state": console.state,
        "created_at": console.created_at,
        "read_only": read_only,
    }


def _access(request, username: str, console_id: str):
    """The token user's access to the console (owner, sharee or teacher), else 404.

    ``username`` is whose console list the URL is in: the owner's, or the sharee's own.
    """
    owner_for(request, username)
    access = selectors.console_access(request.auth, console_id)
    if access is None:
        raise Http404("No such console")
    if username not in (access.console.owner.username, request.auth.username):
        raise Http404("No such console")
    return access


@router.get("{username}/consoles/", response=responses(200, list[ConsoleOut]))
def console_list(request, username: str):
    """Your consoles (or a student's), their states freshly asked of the console server."""
    owner = owner_for(request, username)
    consoles = services.console_states_sync(owner=owner)
    for console in consoles:
        console.owner = owner
    return [_out(console) for console in consoles]


@router.post("{username}/consoles/", response=responses(201, ConsoleOut))
def console_create(request, username: str, body: ConsoleIn):
    """Start a console (Bash, a Python version or IPython), as the Consoles tab does."""
    owner = self_only(request, username)
    # The service refuses unknown kinds (and "custom", which needs a launcher) itself.
    console = services.console_start(
        owner=owner, kind=body.kind, python_version=body.python_version
    )
    return Status(201, _out(console))


@router.get("{username}/consoles/shared_with_you/", response=responses(200, list[ConsoleOut]))
def console_shared_list(request, username: str):
    """Consoles other users shared with you."""
    self_only(request, username)
    shares = selectors.consoles_shared_with(request.auth)
    return [_out(share.console, read_only=share.read_only) for share in shares]


@router.get("{username}/consoles/{console_id}/", response=responses(200, ConsoleOut))
def console_get(request, username: str, console_id: str):
    access = _access(request, username, console_id)
    return _out(access.console, read_only=access.read_only)


@router.get(
    "{username}/consoles/{console_id}/get_latest_output/", response=responses(200, OutputOut)
)
def console_latest_output(request, username: str, console_id: str):
    """The console's screen and recent scrollback, as text."""
    access = _access(request, username, console_id)
    return {"output": selectors.console_latest_output(access.console)}


@router.post("{username}/consoles/{console_id}/send_input/", response=responses(200, Done))
def console_send_input(request, username: str, console_id: str, body: InputIn):
    """Type into the console (read-write access only)."""
    access = _access(request, username, console_id)
    if access.read_only:
        raise AppError("This console is shared with you read-only.", status=403)
    sent = services.console_send_input(console=access.console, text=body.input)
    if access.as_teacher:
        access_record(
            actor=request.auth,
            owner=access.console.owner,
            action="typed into the console",
            target=access.console.title,
        )
    return {"ok": True, "detail": f"Sent {sent} characters."}


@router.delete("{username}/consoles/{console_id}/", response=responses(200, Done))
def console_kill(request, username: str, console_id: str):
    """Kill the console and everything it runs (its owner only, as on the page)."""
    access = _access(request, username, console_id)
    if not access.is_owner:
        raise Http404("No such console")
    services.console_kill(console=access.console)
    return {"ok": True, "detail": "Console killed."}
