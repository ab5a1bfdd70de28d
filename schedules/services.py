"""Writes about scheduled tasks: create, change, delete, extend, run now, and the scheduler's
minute (claiming due slots and handing each to its server's queue).

Each service owns its transaction; Celery messages go out on commit, so a rolled-back claim
sends nothing. The scheduler's claim is safe against two beats: due rows are locked with
SKIP LOCKED while their runs are inserted and their next slot advanced, and a run row is
unique per (task, slot), so a slot that was claimed once can never be claimed again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from accounts.home_paths import home_path_parse
from accounts.limits import effective_limits
from accounts.models import User
from accounts.selectors import cheapest_plan_allowing
from config.errors import AppError
from schedules.models import AlwaysOnTask, ScheduledTask, TaskRun
from schedules.selectors import (
    always_on_count,
    always_on_wanted,
    task_count,
    tasks_due,
    tasks_expire_for,
)
from schedules.timing import minute_start, schedule_next
from servers.models import Server
from servers.selectors import first_active_server

logger = logging.getLogger(__name__)

MAX_COMMAND_CHARS = 1000
# The things that would make one task line into several, or truncate it where the agent
# reads it: refused rather than silently run differently from what the user saw.
FORBIDDEN_IN_COMMAND = re.compile(r"[\x00\r\n]")


@dataclass(frozen=True)
class Schedule:
    interval: str
    hour: int | None
    minute: int


def expiry_period() -> timedelta:
    return timedelta(days=settings.WARREN_TASK_EXPIRY_DAYS)


# --- checks ---------------------------------------------------------------------------------


def _checked_command(owner: User, raw: str) -> str:
    command = (raw or "").strip()
    if not command:
        raise AppError("Enter a command to run.", field="command")
    if FORBIDDEN_IN_COMMAND.search(command):
        raise AppError(
            "A task is one command line: no line breaks or NUL characters. Put several "
            "commands in a script in your home and run that.",
            field="command",
        )
    if len(command) > MAX_COMMAND_CHARS:
        raise AppError(
            f"The command is longer than {MAX_COMMAND_CHARS} characters.", field="command"
        )
    words = command.split()
    # A lone path is a script to run: it must be one of the user's own files. Other paths in
    # a command line (/usr/bin/python3.11 ...) are the system's and are the sandbox's business,
    # but naming someone else's home is a mistake worth saying out loud.
    if len(words) == 1 and words[0].startswith(("/", "~")):
        home_path_parse(owner, words[0], what="script", field="command")
    for word in words:
        if word.startswith("/home/"):
            home_path_parse(owner, word, what="script", field="command")
    return command


def _checked_schedule(owner: User, schedule: Schedule) -> Schedule:
    if schedule.interval not in ScheduledTask.Interval.values:
        raise AppError("Choose daily or hourly.", field="interval")
    if not 0 <= schedule.minute <= 59:
        raise AppError("The minute must be between 0 and 59.", field="minute")
    if schedule.interval == ScheduledTask.Interval.HOURLY:
        if tasks_expire_for(owner):
            raise AppError(
                "Hourly tasks are for paid plans; a free account's tasks run daily.",
                field="interval",
            )
        return Schedule(schedule.interval, None, schedule.minute)
    if schedule.hour is None or not 0 <= schedule.hour <= 23:
        raise AppError("The hour must be between 0 and 23 (UTC).", field="hour")
    return schedule


def _check_task_limit(owner: User) -> None:
    limits = effective_limits(owner)
    have = task_count(owner=owner)
    if limits.allows("max_scheduled_tasks", have + 1):
        return
    plan = cheapest_plan_allowing(field="max_scheduled_tasks", count=have + 1)
    more = f" The {plan.name} plan allows more." if plan else ""
    raise AppError(
        f"Your {limits.plan_name} plan allows {limits.max_scheduled_tasks} scheduled "
        f"task{'' if limits.max_scheduled_tasks == 1 else 's'}, and you have {have}. "
        f"Delete one first.{more}"
    )


def _task_server() -> Server:
    server = first_active_server(kind=Server.Kind.TASK) or first_active_server(
        kind=Server.Kind.CONSOLE
    )
    if server is None:
        raise AppError("No task server is available right now. Try again later.", status=503)
    return server


# --- the user's writes ----------------------------------------------------------------------


def task_create(
    *, owner: User, command: str, schedule: Schedule, description: str = "", now: datetime
) -> ScheduledTask:
    """Add a task to the owner's list, within their plan's limit."""
    command = _checked_command(owner, command)
    schedule = _checked_schedule(owner, schedule)
    with transaction.atomic():
        # Serialises two creates of one user, so both cannot slip under the limit.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        _check_task_limit(owner)
        return ScheduledTask.objects.create(
            owner=owner,
            server=_task_server(),
            command=command,
            interval=schedule.interval,
            hour=schedule.hour,
            minute=schedule.minute,
            description=description.strip()[:200],
            next_run_at=schedule_next(after=now, **schedule.__dict__),
            expires_at=now + expiry_period() if tasks_expire_for(owner) else None,
        )


def task_update(
    *, task: ScheduledTask, command: str, schedule: Schedule, description: str, now: datetime
) -> ScheduledTask:
    """Change a task's command, schedule or description; its next slot follows the schedule."""
    task.command = _checked_command(task.owner, command)
    schedule = _checked_schedule(task.owner, schedule)
    task.interval, task.hour, task.minute = schedule.interval, schedule.hour, schedule.minute
    task.description = description.strip()[:200]
    task.next_run_at = schedule_next(after=now, **schedule.__dict__)
    task.save(
        update_fields=[
            "command",
            "interval",
            "hour",
            "minute",
            "description",
            "next_run_at",
            "updated_at",
        ]
    )
    return task


def task_delete(*, task: ScheduledTask) -> None:
    """Remove a task and its run history (its log file stays in the home)."""
    task.delete()


def task_enable_set(*, task: ScheduledTask, enabled: bool, now: datetime) -> ScheduledTask:
    """Switch a task on or off; switched on, it runs at its next slot from now (not missed ones)."""
    task.enabled = enabled
    fields = ["enabled", "updated_at"]
    if enabled:
        task.next_run_at = schedule_next(
            interval=task.interval, hour=task.hour, minute=task.minute, after=now
        )
        fields.append("next_run_at")
    task.save(update_fields=fields)
    return task


def task_extend(*, task: ScheduledTask, now: datetime) -> ScheduledTask:
    """Push a free account's task's expiry to four weeks from now (PythonAnywhere's rule)."""
    if task.expires_at is None:
        raise AppError("This task does not expire.", status=400)
    task.expires_at = now + expiry_period()
    task.expiry_reminded_at = None
    task.save(update_fields=["expires_at", "expiry_reminded_at", "updated_at"])
    return task


def task_run_now(*, task: ScheduledTask, now: datetime) -> TaskRun:
    """Run a task at once, outside its schedule (expired or disabled tasks too: the user asked)."""
    from schedules.tasks import run_task

    with transaction.atomic():
        run = TaskRun.objects.create(task=task, scheduled_for=now, trigger=TaskRun.Trigger.MANUAL)
        server_queue = task.server.agent_queue
        transaction.on_commit(lambda: run_task.apply_async((run.pk,), queue=server_queue))
    return run


def task_expired(task: ScheduledTask, *, now: datetime) -> bool:
    return task.expires_at is not None and task.expires_at <= now


# --- the scheduler --------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispatched:
    run_id: int
    queue: str


def tasks_dispatch_due(*, now: datetime) -> list[Dispatched]:
    """Claim every slot due at ``now`` and queue a run for each on its server, once.

    A task whose beat was missed for a while has one slot due (the oldest it missed) and
    runs once; its next slot is computed from now, not from the missed one. Expired tasks of
    free accounts are passed over (their slot still moves on, so they are not found again).
    """
    from schedules.tasks import run_task

    with transaction.atomic():
        due = list(
            tasks_due(now=now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("server")
            .only(
                "id",
                "interval",
                "hour",
                "minute",
                "next_run_at",
                "expires_at",
                "server__hostname",
            )
        )
        if not due:
            return []
        runs = []
        for task in due:
            if not task_expired(task, now=now):
                runs.append(TaskRun(task_id=task.pk, scheduled_for=task.next_run_at))
            task.next_run_at = schedule_next(
                interval=task.interval, hour=task.hour, minute=task.minute, after=minute_start(now)
            )
        # A slot claimed already (by a scheduler that read the task before this one moved
        # it on) has its row: it is neither inserted again nor sent again.
        slots = {run.scheduled_for for run in runs}
        task_ids = [run.task_id for run in runs]
        existing = set(
            TaskRun.objects.filter(task_id__in=task_ids, scheduled_for__in=slots).values_list(
                "task_id", "scheduled_for"
            )
        )
        runs = [run for run in runs if (run.task_id, run.scheduled_for) not in existing]
        TaskRun.objects.bulk_create(runs, ignore_conflicts=True, batch_size=1000)
        ScheduledTask.objects.bulk_update(due, ["next_run_at"], batch_size=1000)
        queues = {task.pk: task.server.agent_queue for task in due}
        keys = [run.agent_key for run in runs]
        dispatched = [
            Dispatched(run_id=pk, queue=queues[task_id])
            for pk, task_id in TaskRun.objects.filter(agent_key__in=keys).values_list(
                "pk", "task_id"
            )
        ]

        def send() -> None:
            for item in dispatched:
                # Expires: a run that waited past its next slot's beat is still worth running
                # (it is the slot the user asked for), so only a day-old message is dropped.
                run_task.apply_async((item.run_id,), queue=item.queue, expires=86400)

        transaction.on_commit(send)
    return dispatched


def tasks_expiry_follow_plan(*, user_id: int, now: datetime) -> None:
    """After a plan change: paid accounts' tasks never expire; free ones' do, from now."""
    owner = User.objects.filter(pk=user_id).select_related("plan").first()
    if owner is None:
        return
    tasks = ScheduledTask.objects.filter(owner=owner)
    if tasks_expire_for(owner):
        tasks.filter(expires_at__isnull=True).update(expires_at=now + expiry_period())
    else:
        tasks.update(expires_at=None, expiry_reminded_at=None)


# --- runs on the task server (called by the exec.<hostname> Celery tasks) ----------------


def task_run_start(*, run_id: int, now: datetime) -> TaskRun | None:
    """Start a queued run on its server, once: the QUEUED -> RUNNING update is the claim."""
    from schedules import agent

    claimed = TaskRun.objects.filter(pk=run_id, state=TaskRun.State.QUEUED).update(
        state=TaskRun.State.RUNNING, started_at=now
    )
    if not claimed:
        return None  # started already (a redelivered message), or the task was deleted
    run = TaskRun.objects.select_related("task__owner__plan", "task__server").get(pk=run_id)
    try:
        answer = agent.start(run)
    except (agent.AgentError, agent.AgentUnavailable) as error:
        run.state = TaskRun.State.FAILED
        run.finished_at = now
        run.message = str(getattr(error, "message", error))[:500]
        run.save(update_fields=["state", "finished_at", "message"])
        logger.warning("run %s of task %s did not start: %s", run.pk, run.task_id, error)
        return run
    if answer.get("started_at"):
        run.started_at = datetime.fromtimestamp(answer["started_at"], tz=now.tzinfo)
        run.save(update_fields=["started_at"])
    return run


def task_results_record(*, server: Server, now: datetime) -> int:
    """Record the runs ``server`` finished (time, exit status, CPU) and let it forget them.

    Idempotent: a result is written only to a run still marked running, and the agent keeps
    each result until the next collection says it was recorded.
    """
    from schedules import agent

    answer = agent.results(server, forget=[])
    finished = {entry["run_id"]: entry for entry in answer["finished"]}
    recorded = []
    for run in TaskRun.objects.filter(agent_key__in=finished, task__server=server):
        entry = finished[run.agent_key]
        recorded.append(run.agent_key)
        if run.state != TaskRun.State.RUNNING:
            continue
        state = entry.get("state")
        run.state = {"done": TaskRun.State.DONE, "killed": TaskRun.State.KILLED}.get(
            state, TaskRun.State.FAILED
        )
        if state == "lost":
            run.message = "The task server restarted while this run was going."
        elif state == "killed":
            run.message = "Killed at the wall-clock limit."
        run.finished_at = datetime.fromtimestamp(entry.get("finished_at", now.timestamp()), UTC)
        if entry.get("started_at"):
            run.started_at = datetime.fromtimestamp(entry["started_at"], UTC)
        run.exit_status = entry.get("exit_status")
        run.cpu_seconds = entry.get("cpu_seconds")
        run.save(
            update_fields=[
                "state",
                "message",
                "started_at",
                "finished_at",
                "exit_status",
                "cpu_seconds",
            ]
        )
    # Results of runs this database does not know (deleted tasks) are dropped as well.
    unknown = set(finished) - set(recorded)
    if recorded or unknown:
        agent.results(server, forget=sorted(set(recorded) | unknown))
    return len(recorded)


def task_run_kill(*, run: TaskRun) -> None:
    """Stop a running run now; its result (killed) is recorded by the next collection."""
    from schedules import agent

    try:
        agent.kill(run)
    except (agent.AgentError, agent.AgentUnavailable) as error:
        raise AppError(f"Could not stop the run: {getattr(error, 'message', error)}") from None


# --- expiry -----------------------------------------------------------------------------------


def task_expiry_reminders_send(*, now: datetime) -> int:
    """Email each owner whose free tasks stop within the reminder window, once per expiry."""
    from collections import defaultdict

    from django.core.mail import send_mail

    window_end = now + timedelta(days=settings.WARREN_TASK_EXPIRY_REMINDER_DAYS)
    due = ScheduledTask.objects.filter(
        enabled=True,
        expires_at__gt=now,
        expires_at__lte=window_end,
        expiry_reminded_at__isnull=True,
    ).select_related("owner")
    by_owner: dict[User, list[ScheduledTask]] = defaultdict(list)
    for task in due:
        by_owner[task.owner].append(task)
    for owner, tasks in by_owner.items():
        lines = "\n".join(
            f"- {task.label} ({task.schedule_display}): stops after "
            f"{task.expires_at:%Y-%m-%d %H:%M} UTC"
            for task in tasks
        )
        with transaction.atomic():
            marked = ScheduledTask.objects.filter(
                pk__in=[task.pk for task in tasks], expiry_reminded_at__isnull=True
            ).update(expiry_reminded_at=now)
            if not marked or not owner.email:
                continue
            send_mail(
                subject=f"[{settings.WARREN_SITE_NAME}] Your scheduled tasks stop soon",
                message=(
                    f"Hello {owner.username},\n\nOn a free account, a scheduled task runs for "
                    f"{settings.WARREN_TASK_EXPIRY_DAYS} days after it was created or last "
                    f"extended. These stop soon:\n\n{lines}\n\nClick Extend beside each on "
                    "your Tasks page to keep it running.\n"
                ),
                from_email=None,
                recipient_list=[owner.email],
            )
    return len(by_owner)


# --- always-on tasks --------------------------------------------------------------------------
# The agent keeps them running; every write here ends by sending the owner's whole set to the
# server (on commit, on its exec.<hostname> queue), so a lost message is mended by the next.


def _check_always_on_allowed(owner: User, *, adding: bool) -> None:
    limits = effective_limits(owner)
    if tasks_expire_for(owner) or limits.max_always_on_tasks == 0:
        plan = cheapest_plan_allowing(field="max_always_on_tasks", count=1)
        more = f" The {plan.name} plan includes some." if plan else ""
        raise AppError(
            f"Always-on tasks are for paid plans; your {limits.plan_name} plan has none.{more}"
        )
    if not adding:
        return
    have = always_on_count(owner=owner)
    if limits.allows("max_always_on_tasks", have + 1):
        return
    plan = cheapest_plan_allowing(field="max_always_on_tasks", count=have + 1)
    more = f" The {plan.name} plan allows more." if plan else ""
    raise AppError(
        f"Your {limits.plan_name} plan allows {limits.max_always_on_tasks} always-on "
        f"task{'' if limits.max_always_on_tasks == 1 else 's'}, and you have {have}. "
        f"Delete one first.{more}"
    )


def _push_on_commit(owner_id: int, server: Server) -> None:
    from schedules.tasks import push_always_on

    queue = server.agent_queue
    transaction.on_commit(lambda: push_always_on.apply_async((owner_id, server.pk), queue=queue))


def always_on_create(*, owner: User, command: str, description: str = "") -> AlwaysOnTask:
    """Add an always-on task (paid plans, within the limit); its server starts it."""
    command = _checked_command(owner, command)
    with transaction.atomic():
        # Serialises two creates of one user, so both cannot slip under the limit.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        _check_always_on_allowed(owner, adding=True)
        task = AlwaysOnTask.objects.create(
            owner=owner,
            server=_task_server(),
            command=command,
            description=description.strip()[:200],
        )
        _push_on_commit(owner.pk, task.server)
    return task


def always_on_update(*, task: AlwaysOnTask, command: str, description: str) -> AlwaysOnTask:
    """Change the command or description; a changed command is started afresh."""
    task.command = _checked_command(task.owner, command)
    task.description = description.strip()[:200]
    with transaction.atomic():
        task.save(update_fields=["command", "description", "updated_at"])
        _push_on_commit(task.owner_id, task.server)
    return task


def always_on_delete(*, task: AlwaysOnTask) -> None:
    """Remove the task; its server stops it (its log stays in the home)."""
    server, owner_id = task.server, task.owner_id
    with transaction.atomic():
        task.delete()
        _push_on_commit(owner_id, server)


def always_on_enable_set(*, task: AlwaysOnTask, enabled: bool) -> AlwaysOnTask:
    """Start (enabled) or stop (disabled) the task: its server starts it or kills it."""
    if enabled:
        _check_always_on_allowed(task.owner, adding=False)
    task.enabled = enabled
    with transaction.atomic():
        task.save(update_fields=["enabled", "updated_at"])
        _push_on_commit(task.owner_id, task.server)
    return task


def always_on_restart(*, task: AlwaysOnTask) -> None:
    """Stop the task's run and start it again at once (the back-off starts over)."""
    from schedules import agent

    if not task.enabled:
        raise AppError("This task is stopped: click Start to run it.")
    try:
        restarted = agent.always_on_restart(task)
    except (agent.AgentError, agent.AgentUnavailable) as error:
        raise AppError(
            f"Could not restart the task: {getattr(error, 'message', error)}", status=503
        ) from None
    if not restarted:
        # The server has not got it (yet): send the set again, which starts it.
        always_on_push(owner_id=task.owner_id, server_id=task.server_id)


def always_on_push(*, owner_id: int, server_id: int) -> list[dict] | None:
    """Send the owner's enabled always-on tasks on that server to its agent, which runs them."""
    from schedules import agent

    owner = User.objects.filter(pk=owner_id).select_related("plan").first()
    server = Server.objects.filter(pk=server_id).first()
    if owner is None or server is None:
        return None
    wanted = always_on_wanted(owner=owner, server=server)
    return agent.always_on_set(server, owner, wanted)


def always_on_follow_plan(*, user_id: int) -> None:
    """After a plan change: each server the user has always-on tasks on gets their set again
    (a free plan's is empty: the tasks stop; a paid plan's starts them)."""
    servers = Server.objects.filter(always_on_tasks__owner_id=user_id).distinct()
    for server in servers:
        _push_on_commit(user_id, server)
