"""Reads about scheduled tasks: a user's list, one task, what the scheduler finds due."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.access import may_act_on
from accounts.limits import effective_limits
from schedules.models import ScheduledTask, TaskRun


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


def task_for_owner(*, owner, pk: int) -> ScheduledTask:
    """One of the owner's tasks; anyone else's is a 404 (never a 403: ids are not secrets)."""
    return get_object_or_404(ScheduledTask, owner=owner, pk=pk)


def task_for_actor(*, actor, pk: int) -> ScheduledTask:
    """A task ``actor`` may act on (theirs, or a student's: accounts.access); else a 404."""
    task = get_object_or_404(ScheduledTask.objects.select_related("owner"), pk=pk)
    if not may_act_on(actor, task.owner):
        raise Http404("No such task")
    return task


def task_count(*, owner) -> int:
    return ScheduledTask.objects.filter(owner=owner).count()


def tasks_due(*, now: datetime):
    """Enabled tasks whose slot has come: one range scan of the partial next-run index."""
    return ScheduledTask.objects.filter(enabled=True, next_run_at__lte=now)
