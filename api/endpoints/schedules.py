"""Scheduled tasks (the Tasks tab): list, create, get, run now, enable/disable, delete."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from ninja import Router, Schema, Status

from accounts.access import access_record
from api.endpoints.common import Done, an_id, owner_for, responses
from api.errors import ApiError, form_errors
from schedules import selectors, services
from schedules.forms import TaskForm
from schedules.models import ScheduledTask

router = Router(tags=["tasks"])


class TaskOut(Schema):
    id: int
    command: str
    interval: str
    hour: int | None
    minute: int
    description: str
    enabled: bool
    next_run_at: datetime
    expires_at: datetime | None


class TaskIn(Schema):
    command: str
    interval: str = "daily"
    hour: int | None = None
    minute: int
    description: str = ""


def _task(request, username: str, task_id: int) -> ScheduledTask:
    owner = owner_for(request, username)
    task = selectors.task_for_actor(actor=request.auth, pk=task_id)
    if task.owner_id != owner.pk:
        raise ApiError(404, "No such task")
    return task


def _record(request, task: ScheduledTask, action: str) -> None:
    access_record(actor=request.auth, owner=task.owner, action=action, target=task.command)


@router.get("{username}/schedule/", response=responses(200, list[TaskOut]))
def task_list(request, username: str):
    return selectors.task_list(owner=owner_for(request, username))


@router.post("{username}/schedule/", response=responses(201, TaskOut))
def task_create(request, username: str, body: TaskIn):
    """Add a task, as the Tasks tab's form does (same checks, same plan limits)."""
    owner = owner_for(request, username)
    form = TaskForm(body.dict())
    if not form.is_valid():
        raise ApiError(400, form_errors(form))
    task = services.task_create(
        owner=owner,
        command=form.cleaned_data["command"],
        schedule=form.schedule,
        description=form.cleaned_data["description"],
        now=timezone.now(),
    )
    _record(request, task, "created the task")
    return Status(201, task)


@router.get("{username}/schedule/{task_id}/", response=responses(200, TaskOut))
def task_get(request, username: str, task_id: int = an_id()):
    return _task(request, username, task_id)


@router.post("{username}/schedule/{task_id}/run_now/", response=responses(200, Done))
def task_run_now(request, username: str, task_id: int = an_id()):
    task = _task(request, username, task_id)
    services.task_run_now(task=task, now=timezone.now())
    _record(request, task, "ran the task")
    return {"ok": True, "detail": "The task is starting."}


@router.post("{username}/schedule/{task_id}/enable/", response=responses(200, TaskOut))
def task_enable(request, username: str, task_id: int = an_id()):
    task = _task(request, username, task_id)
    _record(request, task, "switched on or off")
    return services.task_enable_set(task=task, enabled=True, now=timezone.now())


@router.post("{username}/schedule/{task_id}/disable/", response=responses(200, TaskOut))
def task_disable(request, username: str, task_id: int = an_id()):
    task = _task(request, username, task_id)
    _record(request, task, "switched on or off")
    return services.task_enable_set(task=task, enabled=False, now=timezone.now())


@router.delete("{username}/schedule/{task_id}/", response=responses(200, Done))
def task_delete(request, username: str, task_id: int = an_id()):
    task = _task(request, username, task_id)
    _record(request, task, "deleted the task")
    services.task_delete(task=task)
    return {"ok": True, "detail": "Task deleted."}
