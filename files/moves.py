"""Moving a user's home to another file server while they keep working (the per-user form of
the seed's migration, deploy/migrate/parallel-rsync).

1. Copy passes while the user works (the source's agent rsyncs the home and the web directory
   to the target's roots), until a pass is quick (little left to send) or MAX_PASSES.
2. Downtime: stop the user's consoles and other processes, so nothing writes; a final pass.
3. Switch the registry (``user.file_server``), apply the quota on the new server.
4. Start the consoles again and reload the web apps; the downtime ends.

A failure before the switch leaves the user where they were (their processes are started
again); the copy on the target is left for the next attempt, which then sends little. The old
home is left on the source for the operator to delete once satisfied.

The execution servers must see the new server's copy at the same path after the switch. With
several file servers (``WARREN_FILESERVER_MOUNTS``) each home there is a bind of its server's
mount (and, with ``WARREN_FILESERVER_WWW_MOUNTS``, so is each web directory), switched on every
console, task and web server after the final pass, all or nothing:
a server that cannot switch fails the move, the others are switched back, and the user stays
on the old server (files/mounts.py, op home_mount_set).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import AppError
from files import fileserver, mounts
from files.models import HomeMove
from fileserver_agent.client import FileserverError
from servers.agents import AgentError
from servers.models import Server

logger = logging.getLogger(__name__)

MAX_PASSES = 4
# A pass this quick means little changed since the last: the final one will be as quick.
QUIET_PASS_SECONDS = 3.0


def home_move_refusal(*, user, target) -> str | None:
    """Why ``user`` cannot be moved to ``target`` now, or None."""
    if target is None or target.kind != Server.Kind.FILE:
        return "Choose a file server."
    if user.file_server_id is None:
        return f"{user} has no file server yet (their home was never made)."
    if user.file_server_id == target.pk:
        return f"{user}'s home is on {target} already."
    if HomeMove.objects.filter(user=user, state__in=_IN_PROGRESS).exists():
        return f"{user}'s home is being moved already."
    return None


def home_move_start(
    *, user, target, homes_destination: str = "", www_destination: str = ""
) -> HomeMove:
    """Record a move of ``user``'s home to ``target``; a worker starts it after commit."""
    from files import tasks

    refusal = home_move_refusal(user=user, target=target)
    if refusal:
        raise AppError(refusal)
    try:
        with transaction.atomic():
            move = HomeMove.objects.create(
                user=user,
                source_id=user.file_server_id,
                target=target,
                homes_destination=homes_destination,
                www_destination=www_destination,
            )
            queue = _queue_for(user)
            transaction.on_commit(lambda: tasks.home_move_run.apply_async((move.pk,), queue=queue))
    except IntegrityError:
        raise AppError(f"{user}'s home is being moved already.") from None
    return move


def _queue_for(user) -> str:
    """Beside the execution agent of the user's consoles (its socket is local), else default."""
    from consoles.models import Console

    console = (
        Console.objects.filter(owner=user, state=Console.State.RUNNING, server__isnull=False)
        .select_related("server")
        .first()
    )
    return console.server.agent_queue if console else "default"


def home_move_run(*, move_id: int) -> HomeMove | None:
    """Carry out a pending move (see the module's docstring); None if another worker has it."""
    claimed = HomeMove.objects.filter(pk=move_id, state=HomeMove.State.PENDING).update(
        state=HomeMove.State.COPYING
    )
    if not claimed:
        return None
    move = HomeMove.objects.select_related("user", "source", "target").get(pk=move_id)
    try:
        homes, www = _destinations(move)
        _copy_while_working(move, homes, www)
        downtime = _switch(move, homes, www)
    except (FileserverError, AppError) as error:
        logger.warning("home move %s failed: %s", move.pk, error)
        _finish(move, HomeMove.State.FAILED, error=str(error))
        return move
    _finish(move, HomeMove.State.DONE, downtime=downtime)
    return move


_IN_PROGRESS = (HomeMove.State.PENDING, HomeMove.State.COPYING, HomeMove.State.SWITCHING)


def _destinations(move: HomeMove) -> tuple[str, str]:
    if move.homes_destination and move.www_destination:
        return move.homes_destination, move.www_destination
    roots = fileserver.server_health(move.target)
    return (
        move.homes_destination or roots["homes_root"],
        move.www_destination or roots["www_root"],
    )


def _copy_while_working(move: HomeMove, homes: str, www: str) -> None:
    while move.passes < MAX_PASSES:
        seconds = _pass(move, homes, www)
        if seconds < QUIET_PASS_SECONDS:
            return


def _pass(move: HomeMove, homes: str, www: str) -> float:
    seconds = fileserver.home_sync(move.user, move.source, homes=homes, www=www)
    move.passes += 1
    move.save(update_fields=["passes"])
    logger.info("home move %s: pass %d took %.1f s", move.pk, move.passes, seconds)
    return seconds


@dataclass
class _Stopped:
    """What the final pass stopped, to start again whatever happens."""

    consoles: list = field(default_factory=list)
    always_on_servers: list[int] = field(default_factory=list)


def _switch(move: HomeMove, homes: str, www: str) -> float:
    """Stop, final pass, switch, start again; the seconds the user was without their files."""
    from files import services

    move.state = HomeMove.State.SWITCHING
    move.save(update_fields=["state"])
    started = time.monotonic()
    stopped = _Stopped()
    try:
        _stop_processes(move.user, stopped)
        _pass(move, homes, www)
        if mounts.configured():
            # Raises (every server switched back) before the registry changes: the user stays.
            services.home_mounts_switch(user=move.user, source=move.source, target=move.target)
        type(move.user).objects.filter(pk=move.user.pk).update(file_server=move.target)
        move.user.file_server = move.target
        try:
            services.storage_quota_apply(user=move.user)
        except FileserverError as error:
            # The user is moved: a lost quota apply is the nightly re-apply's to mend.
            logger.warning("home move %s: quota on %s failed: %s", move.pk, move.target, error)
    finally:
        _start_again(move.user, stopped)
    return time.monotonic() - started


def _stop_processes(user, stopped: _Stopped) -> None:
    """End the user's consoles, always-on tasks, web apps and every other process of theirs."""
    from consoles import tmux
    from consoles.models import Console
    from schedules import agent as schedules_agent
    from schedules.models import AlwaysOnTask
    from servers.agents import AgentUnavailable
    from servers.processes import process_kill, user_processes
    from webapps import agent as webapps_agent
    from webapps.models import WebApp

    stopped.consoles = list(
        Console.objects.filter(owner=user, state=Console.State.RUNNING).select_related("server")
    )
    for console in stopped.consoles:
        try:
            tmux.kill(console)
        except (tmux.AgentError, tmux.AgentUnavailable) as error:
            logger.warning("home move: could not stop console %s: %s", console.pk, error)
    Console.objects.filter(pk__in=[c.pk for c in stopped.consoles]).update(state=Console.State.DEAD)
    # Always-on tasks and web apps would be started again by their supervisor and Emperor,
    # writing to the old copy: they are taken off until the switch is done.
    servers = AlwaysOnTask.objects.filter(owner=user, enabled=True).values_list("server", flat=True)
    for server in Server.objects.filter(pk__in=set(servers)):
        stopped.always_on_servers.append(server.pk)
        try:
            schedules_agent.always_on_set(server, user, [])
        except (AgentError, AgentUnavailable) as error:
            raise AppError(f"Could not stop the always-on tasks on {server}: {error}") from error
    web_servers = WebApp.objects.filter(user=user, enabled=True).values_list("server", flat=True)
    for server in Server.objects.filter(pk__in=set(web_servers)):
        try:
            webapps_agent.stop_user(server, user)
        except (AgentError, AgentUnavailable) as error:
            raise AppError(f"Could not stop the web apps on {server}: {error}") from error
    for row in user_processes(user=user).rows:
        # Gone already (it was a console's), or its server is down: nothing to stop there.
        with contextlib.suppress(AppError, AgentUnavailable):
            process_kill(user=user, server_id=row.server_id, pid=row.pid)


def _start_again(user, stopped: _Stopped) -> None:
    from consoles.services import console_restart
    from schedules.services import always_on_push
    from servers.agents import AgentUnavailable
    from webapps.models import WebApp
    from webapps.services import webapp_reload

    for console in stopped.consoles:
        try:
            console_restart(console=console)
        except AppError as error:
            logger.warning("home move: console %s not restarted: %s", console.pk, error)
    for server_id in stopped.always_on_servers:
        try:
            always_on_push(owner_id=user.pk, server_id=server_id)
        except (AgentError, AgentUnavailable) as error:
            logger.warning("home move: always-on tasks not restarted on %s: %s", server_id, error)
    for webapp in WebApp.objects.filter(user=user, enabled=True):
        try:
            webapp_reload(webapp=webapp)
        except AppError as error:
            logger.warning("home move: %s not reloaded: %s", webapp, error)


def _finish(move: HomeMove, state: str, *, downtime: float | None = None, error: str = "") -> None:
    move.state = state
    move.downtime_seconds = downtime
    move.error = error[:2000]
    move.finished_at = timezone.now()
    move.save(update_fields=["state", "downtime_seconds", "error", "finished_at"])
