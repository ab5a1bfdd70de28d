"""Reads about scheduled tasks: a user's list, one task, what the scheduler finds due."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch

from accounts.access import object_or_404
from accounts.limits import effective_limits
from schedules.models import AlwaysOnTask, ScheduledTask, TaskRun


def tasks_expire_for(user) -> bool:
    """Whether ``user``'s tasks expire and may only run daily: free plans, not custom limits."""
    limits = effective_limits(user)
    return not limits.is_custom and user.plan.is_free


def task_list(*, owner) -> list[ScheduledTask]:
    """The owner's tasks, each with ``last_run`` (its latest run or None), in two queries."""
    runs = TaskRun.objects.order_by("-scheduled_for")[:1]  # a window function per task
    tasks = list(
        ScheduledTask.objects.filter(owner=owner)
        .order_by("pk")
        .prefetch_related(Prefetch("runs", queryset=runs, to_attr="latest_runs"))
    )
    for task in tasks:
        task.last_run = task.latest_runs[0] if task.latest_runs else None
    return tasks


def task_for_actor(*, actor, pk: int) -> ScheduledTask:
    """A task ``actor`` may act on (theirs, or a student's: accounts.access); else a 404."""
    return object_or_404(ScheduledTask.objects, actor=actor, owner="owner", pk=pk)


def task_count(*, owner) -> int:
    return ScheduledTask.objects.filter(owner=owner).count()


def tasks_due(*, now: datetime):
    """Enabled tasks whose slot has come: one range scan of the partial next-run index."""
    return ScheduledTask.objects.filter(enabled=True, next_run_at__lte=now)


# --- always-on tasks ------------------------------------------------------------------------


def always_on_list(*, owner) -> list[AlwaysOnTask]:
    return list(AlwaysOnTask.objects.filter(owner=owner).select_related("server").order_by("pk"))


def always_on_count(*, owner) -> int:
    return AlwaysOnTask.objects.filter(owner=owner).count()


def always_on_for_actor(*, actor, pk: int) -> AlwaysOnTask:
    """An always-on task ``actor`` may act on (theirs, or a student's); else a 404."""
    queryset = AlwaysOnTask.objects.select_related("server")
    return object_or_404(queryset, actor=actor, owner="owner", pk=pk)


def always_on_wanted(*, owner, server) -> list[AlwaysOnTask]:
    """What ``server`` should keep running for ``owner``: enabled tasks, on a plan allowing them."""
    if not always_on_allowed_for(owner):
        return []
    tasks = AlwaysOnTask.objects.filter(owner=owner, server=server, enabled=True).order_by("pk")
    return list(tasks[: effective_limits(owner).max_always_on_tasks])


def always_on_allowed_for(user) -> bool:
    """Always-on tasks are for paid plans (and custom limits that grant some)."""
    return not tasks_expire_for(user) and effective_limits(user).max_always_on_tasks > 0


def always_on_states(*, owner, tasks) -> dict[int, dict]:
    """{task pk: the agent's status} from each server the tasks are on; {} where unreachable."""
    from schedules import agent

    states: dict[int, dict] = {}
    for server in {task.server for task in tasks if task.enabled}:
        try:
            for entry in agent.always_on_status(server, owner):
                states[entry["task_id"]] = entry
        except (agent.AgentError, agent.AgentUnavailable):
            continue
    return states
