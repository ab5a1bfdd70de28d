"""Tasks that keep file servers in line with Warren: a home at signup, the quota after every
limit change, and every quota again each night.

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
from files.services import home_create, storage_quota_apply, storage_quotas_reapply
from fileserver_agent.client import (
    FileserverRequestError,
    FileserverServerError,
    FileserverUnreachable,
)
from servers.models import Server

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (FileserverUnreachable, FileserverServerError)
REAPPLY_LOCK_KEY = "files:reapply_all_quotas:lock"
# The lock outlives the longest run the time limit allows, so it never lapses mid-run.
REAPPLY_SOFT_TIME_LIMIT = 1800
REAPPLY_TIME_LIMIT = 1900
REAPPLY_LOCK_SECONDS = 2000


def enqueue_create_home(sender, *, user_id: int, **kwargs) -> None:
    """accounts.signals.user_provisioned receiver: create the new user's home in the background."""
    create_home.delay(user_id)


def enqueue_apply_storage_quota(sender, *, user_id: int, **kwargs) -> None:
    """accounts.signals.limits_changed receiver: send the user's new disk limit to the server."""
    apply_storage_quota.delay(user_id)


@shared_task(bind=True, acks_late=True, max_retries=None)
def create_home(self, user_id: int) -> None:
    """Create the user's home and web directory on their file server, then apply their quota."""
    user = _user(user_id)
    if user is not None:
        _call_retrying(self, f"create_home {user.username}", lambda: home_create(user=user))


@shared_task(bind=True, acks_late=True, max_retries=None)
def apply_storage_quota(self, user_id: int) -> None:
    """Apply the user's current disk limit (read when the task runs, so the latest wins)."""
    user = _user(user_id)
    if user is not None:
        _call_retrying(
            self, f"apply_storage_quota {user.username}", lambda: storage_quota_apply(user=user)
        )


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=None,
    soft_time_limit=REAPPLY_SOFT_TIME_LIMIT,
    time_limit=REAPPLY_TIME_LIMIT,
)
def reapply_all_quotas(self, server_ids: list[int] | None = None) -> None:
    """Send every user's quota again, one batch per file server (quota state can be lost).

    A server that cannot be reached is retried alone, with backoff; the others are done.
    """
    with cache_lock(REAPPLY_LOCK_KEY, timeout=REAPPLY_LOCK_SECONDS) as held:
        if not held:
            logger.info("reapply_all_quotas: a run is already going; this one is skipped")
            return
        failed = _reapply_on(_file_servers(server_ids))
    if failed and not self.request.is_eager:
        countdown = backoff_seconds(self.request.retries)
        logger.warning("reapply_all_quotas: retrying servers %s in %.1f s", failed, countdown)
        raise self.retry(kwargs={"server_ids": failed}, countdown=countdown)


def _file_servers(server_ids: list[int] | None):
    # Inactive file servers take no new users but still hold homes: they get quotas too.
    servers = Server.objects.filter(kind=Server.Kind.FILE).order_by("pk")
    return servers if server_ids is None else servers.filter(pk__in=server_ids)


def _reapply_on(servers) -> list[int]:
    failed = []
    for server in servers:
        try:
            count = storage_quotas_reapply(server=server)
        except TRANSIENT_ERRORS as error:
            logger.warning("reapply_all_quotas: %s unavailable: %s", server, error)
            failed.append(server.pk)
        except FileserverRequestError as error:
            logger.error("reapply_all_quotas: %s refused the batch: %s", server, error)
        else:
            logger.info("reapply_all_quotas: %d quotas applied on %s", count, server)
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


def _call_retrying(task, what: str, call) -> None:
    try:
        call()
    except TRANSIENT_ERRORS as error:
        if task.request.is_eager:
            # Eager mode (tests, a development run without a worker) has no queue to hold a
            # retry: Celery would run it again at once, for ever. The nightly batch catches up.
            logger.error("%s failed and cannot be retried without a worker: %s", what, error)
            return
        countdown = backoff_seconds(task.request.retries)
        logger.warning("%s: file server unavailable (%s); retry in %.1f s", what, error, countdown)
        raise task.retry(exc=error, countdown=countdown) from error
    except FileserverRequestError as error:
        logger.error("%s refused by the file server, not retried: %s", what, error)


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with jitter, so retries of many tasks spread out as they grow."""
    base = settings.WARREN_FILESERVER_RETRY_BASE_SECONDS
    cap = settings.WARREN_FILESERVER_RETRY_MAX_SECONDS
    return min(cap, base * 2 ** min(retries, 30)) * random.uniform(0.5, 1.0)  # noqa: S311
