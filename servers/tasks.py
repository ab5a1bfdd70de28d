"""CPU-seconds accounting: every minute, each execution server's cgroup readings are added to
its users' day windows, and the tarpit's weights are sent where they changed.

Readings are cumulative, so a missed minute (an agent down, a busy worker) loses nothing: the
next run adds the whole difference. A lock per server keeps two runs from counting one
reading twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from config.locks import cache_lock
from servers.agents import (
    REMOTE_CALLS,
    AgentError,
    AgentUnavailable,
    execution_agent,
    local_agent,
    user_ref,
)
from servers.models import Server
from servers.selectors import execution_servers
from servers.services import CpuReading, cpu_usage_record

logger = logging.getLogger(__name__)

ACCOUNT_LOCK_SECONDS = 300


@shared_task(acks_late=True, ignore_result=True)
def account_cpu_all() -> None:
    """Beat, every minute: one accounting task per execution agent, on that agent's machine."""
    for server in execution_servers():
        # A run left queued past the next one is worth nothing (the next reads the same
        # cumulative counters): let it expire rather than pile up while a worker is away.
        account_cpu.apply_async((server.pk,), queue=server.agent_queue, expires=55)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=280)
def account_cpu(server_id: int) -> None:
    """Add one server's CPU readings to its users' windows and send any changed weights."""
    server = Server.objects.filter(pk=server_id).first()
    if server is None:
        return
    with cache_lock(f"servers:account_cpu:{server_id}", timeout=ACCOUNT_LOCK_SECONDS) as held:
        if not held:
            logger.info("account_cpu %s: a run is already going; this one is skipped", server)
            return
        account_cpu_on(server, now=timezone.now())


def account_cpu_on(server: Server, *, now: datetime) -> None:
    """One accounting run against ``server`` as of ``now`` (the task passes the clock)."""
    agent = execution_agent(server)
    try:
        usage = agent.cpu_usage()
    except (AgentUnavailable, AgentError) as error:
        # Nothing is lost: the next run reads the cumulative counters again.
        logger.warning("account_cpu %s: agent unavailable: %s", server, error)
        return
    readings = {
        name: CpuReading(entry["cpu_usec"], entry.get("cpu_shares"))
        for name, entry in usage["users"].items()
    }
    for change in cpu_usage_record(server=server, readings=readings, now=now):
        try:
            agent.set_cpu_weight(user=user_ref(change.user), shares=change.shares)
        except (AgentUnavailable, AgentError) as error:
            # The next run reads the weight back and sends it again.
            logger.warning("account_cpu %s: weight of %s not set: %s", server, change.user, error)


@shared_task(acks_late=False, ignore_result=False, soft_time_limit=120, time_limit=150)
def agent_call(server_id: int, name: str, kwargs: dict) -> dict:
    """One call to the execution agent beside this worker, for a RemoteAgent elsewhere.

    Not acks_late: the caller waits for this answer and has gone once it times out, so a
    call is never repeated after a worker's crash (a repeated web_reload or task_start would
    act twice). The answer is {"ok": value} or {"error": ...}: exceptions do not travel.
    """
    server = Server.objects.filter(pk=server_id).first()
    if server is None or name not in REMOTE_CALLS:
        return {"error": "agent", "code": "invalid", "message": f"no call {name} on {server_id}"}
    try:
        return {"ok": getattr(local_agent(server), name)(**kwargs)}
    except AgentUnavailable as error:
        return {"error": "unavailable", "message": str(error)}
    except AgentError as error:
        return {
            "error": "agent",
            "code": error.code,
            "message": error.message,
            "errno": error.errno,
        }
