"""The Tasks tab's adapter to its task servers' execution agents (the idiom: servers/agents.py).

One function per agent call; each takes Warren's objects and returns data. Failures come out
as AgentError/AgentUnavailable (re-exported) for the services to word.
"""

from __future__ import annotations

from django.conf import settings

from api.selectors import sandbox_env_for
from schedules.models import AlwaysOnTask, ScheduledTask, TaskRun
from schedules.selectors import tasks_expire_for
from servers.agents import (
    AgentError,
    AgentUnavailable,
    execution_agent,
    sandbox_limits,
    user_ref,
)

__all__ = [
    "AgentError",
    "AgentUnavailable",
    "always_on_restart",
    "always_on_set",
    "always_on_status",
    "kill",
    "results",
    "start",
]


def wall_seconds_for(task: ScheduledTask) -> int:
    """The run's wall-clock limit: the free or the paid one, by the owner's plan."""
    if tasks_expire_for(task.owner):
        return settings.WARREN_TASK_WALL_SECONDS_FREE
    return settings.WARREN_TASK_WALL_SECONDS_PAID


def start(run: TaskRun) -> dict:
    """Start ``run`` on its task's server; {"started", "pid", "started_at"} (answered at once)."""
    task = run.task
    return execution_agent(task.server).task_start(
        user=user_ref(task.owner),
        task_id=task.pk,
        run_id=run.agent_key,
        command=task.command,
        log=task.log_relative_path,
        wall_seconds=wall_seconds_for(task),
        log_max_bytes=settings.WARREN_TASK_LOG_MAX_BYTES,
        limits=sandbox_limits(task.owner),
        env=sandbox_env_for(task.owner),
    )


def results(server, *, forget: list[str]) -> dict:
    """The server's finished runs (after dropping ``forget``) and the ids still running."""
    return execution_agent(server).task_results(forget=forget)


def kill(run: TaskRun) -> bool:
    return execution_agent(run.task.server).task_kill(
        user=user_ref(run.task.owner), run_id=run.agent_key
    )


def always_on_set(server, owner, tasks: list[AlwaysOnTask]) -> list[dict]:
    """Make ``owner``'s always-on tasks on ``server`` exactly ``tasks``; their status."""
    return execution_agent(server).always_on_set(
        user=user_ref(owner),
        tasks=[
            {"task_id": task.pk, "command": task.command, "log": task.log_relative_path}
            for task in tasks
        ],
        log_max_bytes=settings.WARREN_TASK_LOG_MAX_BYTES,
        backoff_max_seconds=settings.WARREN_ALWAYS_ON_BACKOFF_MAX_SECONDS,
        stable_seconds=settings.WARREN_ALWAYS_ON_STABLE_SECONDS,
        limits=sandbox_limits(owner),
    )


def always_on_status(server, owner) -> list[dict]:
    return execution_agent(server).always_on_status(user=user_ref(owner))


def always_on_restart(task: AlwaysOnTask) -> bool:
    return execution_agent(task.server).always_on_restart(
        user=user_ref(task.owner), task_id=task.pk
    )
