"""Tasks that keep file servers in line with Warren: a home at signup, the quota after every
limit change, and every quota again each night; and execution servers: every home bound again
there within a minute of their agent coming back (several file servers).

Each takes ids, is idempotent (creating a home that exists, or setting a quota again,
changes nothing) and is acks_late, so a worker lost mid-task leaves the message to be redone.
While an agent is unreachable or failing (5xx) a task retries with exponential backoff,
capped at WARREN_FILESERVER_RETRY_MAX_SECONDS: a plan change reaches a file server within
that long of it coming back. A 4xx is the request's own fault, which no retry can mend: it
is logged and dropped.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings

from accounts.models import User
from config.locks import cache_lock
from files import mounts, services
from fileserver_agent.client import (
    FileserverRequestError,
    FileserverServerError,
    FileserverUnreachable,
)
from metrics.instruments import quota_apply_failures
from servers.models import Server

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (FileserverUnreachable, FileserverServerError)
# The task's name before the rename: a run of the old code and of the new share one lock.
REAPPLY_LOCK_KEY = "files:reapply_all_quotas:lock"
OVER_QUOTA_LOCK_KEY = "files:storage_over_quota_report:lock"
# The lock outlives the longest run the time limit allows, so it never lapses mid-run.
REAPPLY_SOFT_TIME_LIMIT = 1800
REAPPLY_TIME_LIMIT = 1900
REAPPLY_LOCK_SECONDS = 2000
# Binding every home on a server that came back: a call per user, tens of thousands of them.
MOUNTS_CHECK_SOFT_TIME_LIMIT = 1800
MOUNTS_CHECK_TIME_LIMIT = 1900
MOUNTS_CHECK_LOCK_SECONDS = 2000


def home_create_enqueue(sender, *, user_id: int, **kwargs) -> None:
    """accounts.signals.user_provisioned receiver: create the new user's home in the background."""
    home_create.delay(user_id)


def storage_quota_apply_enqueue(sender, *, user_id: int, **kwargs) -> None:
    """accounts.signals.limits_changed receiver: send the user's new disk limit to the server."""
    storage_quota_apply.delay(user_id)


@shared_task(bind=True, acks_late=True, max_retries=None)
def home_create(self, user_id: int) -> None:
    """Create the user's home and web directory on their file server, then apply their quota."""
    user = _user(user_id)
    if user is not None:
        _call_retrying(
            self, f"home_create {user.username}", lambda: services.home_create(user=user)
        )


@shared_task(bind=True, acks_late=True, max_retries=None)
def storage_quota_apply(self, user_id: int) -> None:
    """Apply the user's current disk limit (read when the task runs, so the latest wins)."""
    user = _user(user_id)
    if user is not None:
        _call_retrying(
            self,
            f"storage_quota_apply {user.username}",
            lambda: services.storage_quota_apply(user=user),
            counted=True,
        )


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=None,
    soft_time_limit=REAPPLY_SOFT_TIME_LIMIT,
    time_limit=REAPPLY_TIME_LIMIT,
)
def storage_quotas_reapply(self, server_ids: list[int] | None = None) -> None:
    """Send every user's quota again, one batch per file server (quota state can be lost).

    A server that cannot be reached is retried alone, with backoff; the others are done.
    """
    with cache_lock(REAPPLY_LOCK_KEY, timeout=REAPPLY_LOCK_SECONDS) as held:
        if not held:
            logger.info("storage_quotas_reapply: a run is already going; this one is skipped")
            return
        failed = _reapply_on(_file_servers(server_ids))
    if failed and not self.request.is_eager:
        countdown = backoff_seconds(self.request.retries)
        logger.warning("storage_quotas_reapply: retrying servers %s in %.1f s", failed, countdown)
        raise self.retry(kwargs={"server_ids": failed}, countdown=countdown)


@shared_task(acks_late=True, soft_time_limit=4 * 3600, time_limit=4 * 3600 + 60)
def home_move_run(move_id: int) -> None:
    """Move a user's home to another file server (files/moves.py); claimed once, by one worker."""
    from files import moves

    moves.home_move_run(move_id=move_id)


@shared_task(acks_late=True)
def storage_over_quota_report() -> None:
    """Mail staff the users at or past their soft storage limit (beat, daily)."""
    with cache_lock(OVER_QUOTA_LOCK_KEY, timeout=REAPPLY_LOCK_SECONDS) as held:
        if not held:
            logger.info("storage_over_quota_report: a run is already going; this one is skipped")
            return
        count = services.storage_over_quota_notify()
    logger.info("storage_over_quota_report: %d users at or over their soft limit", count)


@shared_task(acks_late=True, ignore_result=True)
def home_mounts_check_all() -> None:
    """Beat, every minute (several file servers only): one check per execution agent, on its
    machine's queue, binding every home there again if the agent restarted."""
    if not mounts.configured():
        return
    for server in mounts.home_servers():
        # A check left queued past the next one is worth nothing: the next asks again.
        home_mounts_check.apply_async((server.pk,), queue=server.agent_queue, expires=55)


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=MOUNTS_CHECK_SOFT_TIME_LIMIT,
    time_limit=MOUNTS_CHECK_TIME_LIMIT,
)
def home_mounts_check(server_id: int) -> None:
    """Bind every home on one execution server again if its agent restarted since they were."""
    server = Server.objects.filter(pk=server_id).first()
    if server is None or not mounts.configured():
        return
    lock = f"files:home_mounts_check:{server_id}"
    with cache_lock(lock, timeout=MOUNTS_CHECK_LOCK_SECONDS) as held:
        if not held:
            logger.info("home_mounts_check %s: a run is already going; this one is skipped", server)
            return
        services.home_mounts_restore(server=server)


# The tasks' names before they read <noun>_<verb> like the services: messages queued under
# them (acks_late, and retries waiting out a countdown) are handed on to the new names.
@shared_task(name="files.tasks.create_home", acks_late=True, ignore_result=True)
def create_home_old_name(user_id: int) -> None:
    home_create.delay(user_id)


@shared_task(name="files.tasks.apply_storage_quota", acks_late=True, ignore_result=True)
def apply_storage_quota_old_name(user_id: int) -> None:
    storage_quota_apply.delay(user_id)


@shared_task(name="files.tasks.reapply_all_quotas", acks_late=True, ignore_result=True)
def reapply_all_quotas_old_name(server_ids: list[int] | None = None) -> None:
    storage_quotas_reapply.delay(server_ids=server_ids)


def _file_servers(server_ids: list[int] | None):
    # Inactive file servers take no new users but still hold homes: they get quotas too.
    servers = Server.objects.filter(kind=Server.Kind.FILE).order_by("pk")
    return servers if server_ids is None else servers.filter(pk__in=server_ids)


def _reapply_on(servers) -> list[int]:
    failed = []
    for server in servers:
        try:
            count = services.storage_quotas_reapply(server=server)
        except TRANSIENT_ERRORS as error:
            logger.warning("storage_quotas_reapply: %s unavailable: %s", server, error)
            quota_apply_failures.labels(reason=failure_reason(error)).inc()
            failed.append(server.pk)
        except FileserverRequestError as error:
            logger.error("storage_quotas_reapply: %s refused the batch: %s", server, error)
            quota_apply_failures.labels(reason=failure_reason(error)).inc()
        else:
            logger.info("storage_quotas_reapply: %d quotas applied on %s", count, server)
    return failed


def _user(user_id: int) -> User | None:
    user = (
        User.objects.select_related("plan", "custom_limits", "file_server")
        .filter(pk=user_id)
        .first()
    )
    if user is None:
        logger.info("user %s no longer exists; nothing to do", user_id)
    return user


def failure_reason(error: Exception) -> str:
    """The ``reason`` label of a quota apply the file server did not take."""
    if isinstance(error, FileserverUnreachable):
        return "unreachable"
    if isinstance(error, FileserverServerError):
        return "server_error"
    return "refused"


def _call_retrying(task, what: str, call, *, counted: bool = False) -> None:
    """Run ``call``; retry on transient errors. ``counted``: failures go to /metrics."""
    try:
        call()
    except (*TRANSIENT_ERRORS, FileserverRequestError) as error:
        if counted:
            quota_apply_failures.labels(reason=failure_reason(error)).inc()
        _failed(task, what, error)


def _failed(task, what: str, error: Exception) -> None:
    if isinstance(error, TRANSIENT_ERRORS):
        if task.request.is_eager:
            # Eager mode (tests, a development run without a worker) has no queue to hold a
            # retry: Celery would run it again at once, for ever. The nightly batch catches up.
            logger.error("%s failed and cannot be retried without a worker: %s", what, error)
            return
        countdown = backoff_seconds(task.request.retries)
        logger.warning("%s: file server unavailable (%s); retry in %.1f s", what, error, countdown)
        raise task.retry(exc=error, countdown=countdown) from error
    logger.error("%s refused by the file server, not retried: %s", what, error)


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with jitter, so retries of many tasks spread out as they grow."""
    base = settings.WARREN_FILESERVER_RETRY_BASE_SECONDS
    cap = settings.WARREN_FILESERVER_RETRY_MAX_SECONDS
    return min(cap, base * 2 ** min(retries, 30)) * random.uniform(0.5, 1.0)  # noqa: S311
