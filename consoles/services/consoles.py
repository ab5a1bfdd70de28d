"""Writes about consoles themselves: start, kill, restart, and syncing their states.

Each service owns its transaction. A console's tmux session is created inside the transaction
that creates its row, so a failed start leaves neither; sockets attached to a console hear
about kills and share changes on commit (notify_sockets), through its channel-layer group.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.limits import effective_limits
from accounts.models import User
from accounts.selectors import cheapest_plan_allowing
from config.errors import AppError
from consoles import tmux
from consoles.models import Console, Launcher
from consoles.selectors import console_group, running_console_count
from servers.models import Server
from servers.selectors import first_active_server, local_server

logger = logging.getLogger(__name__)

# The execution agent's limit for one console_send_input.
MAX_INPUT_CHARS = 4096


# --- helpers ------------------------------------------------------------------------------


def console_server_here() -> Server | None:
    """The console server new consoles go to: this machine's, else the first active one.

    A console's page attaches through the agent of its server, over that agent's Unix
    socket: one on this machine is one this dashboard process can attach to (and, after a
    deploy, take its parked client from).
    """
    return local_server(kind=Server.Kind.CONSOLE) or first_active_server(kind=Server.Kind.CONSOLE)


def notify_sockets(console_id: str, event: str) -> None:
    """Tell every socket attached to the console, once the transaction commits."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": event}

    def send() -> None:
        try:
            async_to_sync(layer.group_send)(console_group(console_id), message)
        except Exception:
            # Sharees' sockets re-check their access every few seconds anyway.
            logger.exception("could not tell console %s's sockets about %s", console_id, event)

    transaction.on_commit(send)


def agent_failure(action: str, exc: Exception) -> AppError:
    """The agent's failure to ``action`` as a sentence for the user."""
    if isinstance(exc, tmux.AgentUnavailable):
        return AppError(f"Could not {action}: the console server is not answering. Try again.")
    detail = getattr(exc, "message", str(exc))
    return AppError(f"Could not {action}: {detail}")


def _check_console_limit(owner: User, *, starting: int = 1, replacing: int = 0) -> None:
    """Refuse a start that would take the owner over their plan's running-console limit."""
    limits = effective_limits(owner)
    wanted = running_console_count(owner) - replacing + starting
    if not limits.allows("max_consoles", wanted):
        # The recorded states may be stale (a shell exited since the tab was last looked at).
        console_states_sync(owner=owner)
        wanted = running_console_count(owner) - replacing + starting
    if limits.allows("max_consoles", wanted):
        return
    plan = cheapest_plan_allowing(field="max_consoles", count=wanted)
    more = f" The {plan.name} plan allows more." if plan else ""
    raise AppError(
        f"Your {limits.plan_name} plan allows {limits.max_consoles} running consoles, and you "
        f"have {wanted - starting}. Kill one first.{more}"
    )


def create_console(
    *,
    owner: User,
    kind: str,
    title: str,
    argv: list[str],
    cwd: str,
    launcher: Launcher | None = None,
    script_path: str = "",
    replacing: Console | None = None,
) -> Console:
    """A console row and its tmux session, within the owner's running-console limit."""
    # Lock the owner's row: two starts at once must not both slip under the limit.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    _check_console_limit(owner, replacing=1 if replacing and is_running(replacing) else 0)
    console = Console.objects.create(
        owner=owner,
        kind=kind,
        title=title,
        argv=argv,
        cwd=cwd,
        launcher=launcher,
        script_path=script_path,
        server=console_server_here(),
    )
    try:
        tmux.start(console)
    except (tmux.AgentError, tmux.AgentUnavailable) as exc:
        if isinstance(exc, tmux.AgentError) and exc.code == "not_found":
            raise AppError(f"The folder {cwd} does not exist.", field="cwd") from exc
        raise agent_failure("start the console", exc) from exc
    return console


def is_running(console: Console) -> bool:
    return console.state == Console.State.RUNNING


# --- consoles -----------------------------------------------------------------------------


def _launch_plan(owner: User, kind: str, python_version: str, launcher: Launcher | None) -> dict:
    """What a new console of ``kind`` runs: title, argv and folder."""
    home = owner.home_path
    if kind == Console.Kind.BASH:
        return {"title": "Bash", "argv": ["bash"], "cwd": home}
    facts = tmux.agent_facts(console_server_here())
    if kind == Console.Kind.PYTHON:
        if python_version not in facts["pythons"]:
            raise AppError(f"Python {python_version or '(none)'} is not installed here.")
        return {
            "title": f"Python {python_version}",
            "argv": [f"python{python_version}"],
            "cwd": home,
        }
    if kind == Console.Kind.IPYTHON:
        if not facts["ipython"]:
            raise AppError("IPython is not installed here.")
        return {"title": "IPython", "argv": ["ipython3"], "cwd": home}
    if kind == Console.Kind.CUSTOM:
        if launcher is None or launcher.owner_id != owner.pk:
            raise AppError("No such launcher.")
        cwd = launcher.working_directory or home
        return {"title": launcher.name, "argv": ["bash", "-c", launcher.command], "cwd": cwd}
    raise AppError("Unknown kind of console.")


@transaction.atomic
def console_start(
    *, owner: User, kind: str, python_version: str = "", launcher: Launcher | None = None
) -> Console:
    """Start a new console (Bash, a Python version, IPython or a launcher) for ``owner``."""
    plan = _launch_plan(owner, kind, python_version, launcher)
    return create_console(owner=owner, kind=kind, launcher=launcher, **plan)


@transaction.atomic
def console_kill(*, console: Console) -> None:
    """End a console and its whole process tree; it leaves the owner's list, shares included."""
    console_end(console, action="kill the console")


def console_end(console: Console, *, action: str) -> None:
    """Kill the console's session, tell its sockets, and delete it (``action`` for errors)."""
    try:
        tmux.kill(console)
    except (tmux.AgentError, tmux.AgentUnavailable) as exc:
        raise agent_failure(action, exc) from exc
    notify_sockets(console.pk, "console.gone")
    console.delete()


@transaction.atomic
def console_restart(*, console: Console) -> Console:
    """Start a finished console again: the same command, id, shares and page."""
    console = Console.objects.select_for_update().select_related("owner").get(pk=console.pk)
    if is_running(console):
        raise AppError("This console is still running.")
    User.objects.select_for_update().filter(pk=console.owner_id).first()
    _check_console_limit(console.owner)
    try:
        # The dead session is still listed (remain-on-exit): clear it before starting anew.
        tmux.kill(console)
        tmux.start(console)
    except (tmux.AgentError, tmux.AgentUnavailable) as exc:
        raise agent_failure("restart the console", exc) from exc
    console.state = Console.State.RUNNING
    console.save(update_fields=["state"])
    return console


def console_send_input(*, console: Console, text: str) -> int:
    """Type ``text`` into a running console (the API's send_input); a newline is Enter."""
    if not text:
        raise AppError("Send at least one character.", field="input")
    if len(text) > MAX_INPUT_CHARS:
        raise AppError(f"Send at most {MAX_INPUT_CHARS} characters at a time.", field="input")
    if "\0" in text:
        raise AppError("The input may not contain NUL characters.", field="input")
    try:
        return tmux.send_input(console, text)
    except (tmux.AgentError, tmux.AgentUnavailable) as exc:
        if isinstance(exc, tmux.AgentError) and exc.code == "not_found":
            raise AppError("This console is not running: restart it first.", status=409) from exc
        raise agent_failure("type into the console", exc) from exc


def console_states_sync(*, owner: User) -> list[Console]:
    """Ask each console server which of the owner's consoles still run; record what changed.

    A session tmux no longer has (a rebooted server) counts as finished. An unreachable
    server leaves the recorded states as they were.
    """
    consoles = list(Console.objects.filter(owner=owner).select_related("server"))
    changed: dict[str, list[str]] = {Console.State.RUNNING: [], Console.State.DEAD: []}
    for server in {console.server for console in consoles}:
        try:
            alive = tmux.live_states(owner, server)
        except (tmux.AgentError, tmux.AgentUnavailable):
            continue
        for console in consoles:
            if console.server != server:
                continue
            state = Console.State.RUNNING if alive.get(console.pk) else Console.State.DEAD
            if console.state != state:
                console.state = state
                changed[state].append(console.pk)
    # One UPDATE per state, not per console (after a reboot every console changes at once).
    for state, pks in changed.items():
        if pks:
            Console.objects.filter(pk__in=pks).update(state=state)
    return consoles
