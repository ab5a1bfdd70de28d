"""Names for the Processes page: which scheduled task a process is a run of.

The agent tags a run's processes ``("task", "<task id>.<run key>")``, an always-on task's
``("always_on", "<task id>")``. The tag comes from a
user-controlled environment, so only the user's own tasks are named.
"""

from __future__ import annotations

from schedules.models import AlwaysOnTask, ScheduledTask


def task_labels(user, ids) -> dict[str, tuple[str, str]]:
    """{tag id: ("Task: <description>", url)} for those of ``ids`` naming ``user``'s tasks."""
    task_ids = {}
    for tag_id in ids:
        head = tag_id.partition(".")[0] if isinstance(tag_id, str) else ""
        if head.isdigit() and len(head) < 19:
            task_ids[tag_id] = int(head)
    tasks = ScheduledTask.objects.filter(owner=user, pk__in=set(task_ids.values())).only(
        "id", "description", "command"
    )
    by_pk = {task.pk: task for task in tasks}
    return {
        tag_id: (f"Task: {by_pk[pk].label}", by_pk[pk].get_absolute_url())
        for tag_id, pk in task_ids.items()
        if pk in by_pk
    }


def always_on_labels(user, ids) -> dict[str, tuple[str, str]]:
    """{tag id: ("Always-on: <description>", url)} for those of ``ids`` naming ``user``'s."""
    wanted = {
        tag_id: int(tag_id)
        for tag_id in ids
        if isinstance(tag_id, str) and tag_id.isdigit() and len(tag_id) < 19
    }
    tasks = AlwaysOnTask.objects.filter(owner=user, pk__in=set(wanted.values())).only(
        "id", "description", "command"
    )
    by_pk = {task.pk: task for task in tasks}
    return {
        tag_id: (f"Always-on: {by_pk[pk].label}", by_pk[pk].get_absolute_url())
        for tag_id, pk in wanted.items()
        if pk in by_pk
    }
