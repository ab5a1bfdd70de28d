"""The scheduler's Celery tasks: the minute's dispatch (beat, default queue), each run on its
server's exec.<hostname> queue, collecting finished runs there, and the expiry reminders."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from config.locks import cache_lock
from servers.models import Server
from servers.selectors import execution_servers

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def dispatch_due_tasks() -> int:
    """Beat, every minute: claim the slots due now and queue each run on its server."""
    from schedules.services import tasks_dispatch_due

    return len(tasks_dispatch_due(now=timezone.now()))


@shared_task(acks_late=True, ignore_result=True)
def run_task(run_id: int) -> None:
    """On the task server's queue: start one run (the agent answers at once)."""
    from schedules.services import task_run_start

    task_run_start(run_id=run_id, now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def collect_task_results_all() -> None:
    """Beat: one collection per execution agent, on that agent's machine."""
    for server in execution_servers():
        collect_task_results.apply_async((server.pk,), queue=server.agent_queue, expires=55)


@shared_task(acks_late=True, ignore_result=True)
def collect_task_results(server_id: int) -> None:
    """Record the runs one server has finished (idempotent; a lock keeps runs from piling)."""
    from schedules.services import task_results_record
    from servers.agents import AgentError, AgentUnavailable

    server = Server.objects.filter(pk=server_id).first()
    if server is None:
        return
    with cache_lock(f"schedules:collect:{server_id}", timeout=120) as held:
        if not held:
            return
        try:
            task_results_record(server=server, now=timezone.now())
        except (AgentError, AgentUnavailable) as error:
            # The results wait on the server for the next collection.
            logger.warning("collect_task_results %s: %s", server, error)


@shared_task(acks_late=True, ignore_result=True)
def send_expiry_reminders() -> int:
    """Hourly: email the owners of free tasks that stop within a week (once per expiry)."""
    from schedules.services import task_expiry_reminders_send

    return task_expiry_reminders_send(now=timezone.now())


def tasks_expiry_follow_plan_enqueue(sender=None, *, user_id: int, **kwargs) -> None:
    """accounts.signals.limits_changed: paid accounts' tasks stop expiring, free ones' start."""
    tasks_expiry_follow_plan.delay(user_id)


@shared_task(acks_late=True, ignore_result=True)
def tasks_expiry_follow_plan(user_id: int) -> None:
    from schedules.services import tasks_expiry_follow_plan as follow

    follow(user_id=user_id, now=timezone.now())


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(), max_retries=0)
def push_always_on(owner_id: int, server_id: int) -> None:
    """On the task server's queue: send one owner's always-on set to its agent."""
    from schedules.services import always_on_push
    from servers.agents import AgentError, AgentUnavailable

    try:
        always_on_push(owner_id=owner_id, server_id=server_id)
    except (AgentError, AgentUnavailable) as error:
        # The database still says what should run: the next change (or Restart) sends it.
        logger.warning("push_always_on %s on %s: %s", owner_id, server_id, error)


def always_on_follow_plan_enqueue(sender=None, *, user_id: int, **kwargs) -> None:
    """accounts.signals.limits_changed: a plan change starts or stops the user's always-on tasks."""
    from django.db import transaction

    from schedules.services import always_on_follow_plan

    with transaction.atomic():
        always_on_follow_plan(user_id=user_id)
