"""Writes about consoles: start, kill, restart, share, launchers, Save and Run, preferences.

Each service owns its transaction. A console's tmux session is created inside the transaction
that creates its row, so a failed start leaves neither; sockets attached to a console hear
about kills and share changes on commit, through the console's channel-layer group.
"""

from __future__ import annotations

import logging
import posixpath

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.home_paths import home_path_parse, home_path_relative
from accounts.limits import effective_limits
from accounts.models import User
from accounts.selectors import cheapest_plan_allowing
from config.errors import AppError
from consoles import holder
from consoles.models import Console, Launcher, Preferences, Share
from consoles.selectors import console_group, default_python_for, running_console_count
from servers.agents import execution_agent, user_ref
from servers.models import Server
from servers.selectors import first_active_server

logger = logging.getLogger(__name__)


LAUNCHER_NAME_MAX = 60
LAUNCHER_COMMAND_MAX = 4000


# --- helpers ------------------------------------------------------------------------------


def _notify(console_id: str, event: str) -> None:
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


def _agent_failure(action: str, exc: Exception) -> AppError:
    if isinstance(exc, holder.AgentUnavailable):
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


def _create_console(
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
    # Lock the owner's row: two starts at once must not both slip under the limit.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    _check_console_limit(owner, replacing=1 if replacing and _is_running(replacing) else 0)
    console = Console.objects.create(
        owner=owner,
        kind=kind,
        title=title,
        argv=argv,
        cwd=cwd,
        launcher=launcher,
        script_path=script_path,
        server=first_active_server(kind=Server.Kind.CONSOLE),
    )
    try:
        holder.start(console)
    except (holder.AgentError, holder.AgentUnavailable) as exc:
        if isinstance(exc, holder.AgentError) and exc.code == "not_found":
            raise AppError(f"The folder {cwd} does not exist.", field="cwd") from exc
        raise _agent_failure("start the console", exc) from exc
    return console


def _is_running(console: Console) -> bool:
    return console.state == Console.State.RUNNING


# --- consoles -----------------------------------------------------------------------------


def _launch_plan(owner: User, kind: str, python_version: str, launcher: Launcher | None) -> dict:
    """What a new console of ``kind`` runs: title, argv and folder."""
    home = owner.home_path
    if kind == Console.Kind.BASH:
        return {"title": "Bash", "argv": ["bash"], "cwd": home}
    facts = holder.agent_facts(first_active_server(kind=Server.Kind.CONSOLE))
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
    return _create_console(owner=owner, kind=kind, launcher=launcher, **plan)


@transaction.atomic
def console_kill(*, console: Console) -> None:
    """End a console and its whole process tree; it leaves the owner's list, shares included."""
    try:
        holder.kill(console)
    except (holder.AgentError, holder.AgentUnavailable) as exc:
        raise _agent_failure("kill the console", exc) from exc
    _notify(console.pk, "console.gone")
    console.delete()


@transaction.atomic
def console_restart(*, console: Console) -> Console:
    """Start a finished console again: the same command, id, shares and page."""
    console = Console.objects.select_for_update().select_related("owner").get(pk=console.pk)
    if _is_running(console):
        raise AppError("This console is still running.")
    User.objects.select_for_update().filter(pk=console.owner_id).first()
    _check_console_limit(console.owner)
    try:
        # The dead session is still listed (remain-on-exit): clear it before starting anew.
        holder.kill(console)
        holder.start(console)
    except (holder.AgentError, holder.AgentUnavailable) as exc:
        raise _agent_failure("restart the console", exc) from exc
    console.state = Console.State.RUNNING
    console.save(update_fields=["state"])
    return console


def console_states_sync(*, owner: User) -> list[Console]:
    """Ask each console server which of the owner's consoles still run; record what changed.

    A session tmux no longer has (a rebooted server) counts as finished. An unreachable
    server leaves the recorded states as they were.
    """
    consoles = list(Console.objects.filter(owner=owner).select_related("server"))
    changed: dict[str, list[str]] = {Console.State.RUNNING: [], Console.State.DEAD: []}
    for server in {console.server for console in consoles}:
        try:
            alive = holder.live_states(owner, server)
        except (holder.AgentError, holder.AgentUnavailable):
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


# --- Save and Run -------------------------------------------------------------------------


@transaction.atomic
def console_run_file(*, owner: User, path: str) -> Console:
    """Run a file of the home with the owner's default Python 3, in a console in its folder.

    A console left by an earlier run of the same file is replaced, so repeated runs do not
    pile up against the console limit.
    """
    script = home_path_parse(owner, path, what="file", field="path")
    if script == owner.home_path:
        raise AppError("Choose a file to run.")
    _require_file(owner, script)
    version = default_python_for(owner)
    if not version:
        raise AppError("No Python 3 is installed on the console server.")
    previous = (
        Console.objects.select_for_update()
        .filter(owner=owner, kind=Console.Kind.RUN, script_path=script)
        .first()
    )
    folder, name = posixpath.split(script)
    console = _create_console(
        owner=owner,
        kind=Console.Kind.RUN,
        title=f"{name} (Python {version})",
        # -i: the console stays at the interpreter's prompt after the script, with its names.
        argv=[f"python{version}", "-i", name],
        cwd=folder,
        script_path=script,
        replacing=previous,
    )
    if previous is not None:
        try:
            holder.kill(previous)
        except (holder.AgentError, holder.AgentUnavailable) as exc:
            raise _agent_failure("stop the earlier run", exc) from exc
        _notify(previous.pk, "console.gone")
        previous.delete()
    return console


def _require_file(owner: User, script: str) -> None:
    try:
        stat = execution_agent().fs_stat(
            user=user_ref(owner), path=home_path_relative(owner, script)
        )
    except holder.AgentError as exc:
        raise AppError(f"There is no file {script}.") from exc
    except holder.AgentUnavailable as exc:
        raise _agent_failure("run the file", exc) from exc
    if stat.get("type") != "file":
        raise AppError(f"{script} is not a file.")


# --- sharing ------------------------------------------------------------------------------


@transaction.atomic
def console_share(*, console: Console, username: str, read_only: bool) -> Share | None:
    """Share a console with another user by username; sharing again changes the mode.

    Returns None, without saying so, when no active user has that name: the sharer is told
    the same thing either way, so the form cannot be used to find out who has an account.
    """
    username = (username or "").strip().lower()
    if not username:
        raise AppError("Enter the username to share with.", field="username")
    if username == console.owner.username:
        raise AppError("You cannot share a console with yourself.", field="username")
    sharee = User.objects.filter(username=username, is_active=True).first()
    if sharee is None:
        return None
    share, created = Share.objects.get_or_create(
        console=console, user=sharee, defaults={"read_only": read_only}
    )
    if not created and share.read_only != read_only:
        share.read_only = read_only
        share.save(update_fields=["read_only"])
        _notify(console.pk, "console.shares_changed")
    return share


@transaction.atomic
def console_unshare(*, share: Share) -> None:
    """Revoke a share; the viewer's open socket is closed within seconds."""
    console_id = share.console_id
    share.delete()
    _notify(console_id, "console.shares_changed")


# --- launchers ----------------------------------------------------------------------------


def _launcher_fields(owner: User, name: str, command: str, working_directory: str) -> dict:
    name, command = (name or "").strip(), (command or "").strip()
    if not name:
        raise AppError("Give the launcher a name.", field="name")
    if len(name) > LAUNCHER_NAME_MAX:
        raise AppError(f"Keep the name under {LAUNCHER_NAME_MAX} characters.", field="name")
    if not command:
        raise AppError("Give the launcher a command to run.", field="command")
    if len(command) > LAUNCHER_COMMAND_MAX or "\0" in command:
        raise AppError(
            f"Keep the command under {LAUNCHER_COMMAND_MAX} characters.", field="command"
        )
    folder = (working_directory or "").strip()
    return {
        "name": name,
        "command": command,
        "working_directory": (
            home_path_parse(owner, folder, field="working_directory") if folder else ""
        ),
    }


@transaction.atomic
def launcher_create(
    *, owner: User, name: str, command: str, working_directory: str = ""
) -> Launcher:
    """Add a custom console launcher: a name and a Bash command, optionally in a folder."""
    fields = _launcher_fields(owner, name, command, working_directory)
    return Launcher.objects.create(owner=owner, **fields)


@transaction.atomic
def launcher_update(
    *, launcher: Launcher, name: str, command: str, working_directory: str = ""
) -> Launcher:
    """Change a launcher; consoles already started from it keep what they run."""
    fields = _launcher_fields(launcher.owner, name, command, working_directory)
    for field, value in fields.items():
        setattr(launcher, field, value)
    launcher.save(update_fields=list(fields))
    return launcher


@transaction.atomic
def launcher_delete(*, launcher: Launcher) -> None:
    """Remove a launcher; its running consoles keep running."""
    launcher.delete()


# --- preferences --------------------------------------------------------------------------


@transaction.atomic
def preferences_set_python(*, user: User, version: str) -> Preferences:
    """Choose the Python 3 version Save and Run uses."""
    facts = holder.agent_facts(first_active_server(kind=Server.Kind.CONSOLE))
    if version not in facts["pythons"]:
        raise AppError(f"Python {version or '(none)'} is not installed here.", field="version")
    preferences, _ = Preferences.objects.update_or_create(
        user=user, defaults={"default_python": version}
    )
    return preferences
