"""The forums' Celery tasks: the Akismet check of each post and edit, reports of staff's
verdicts back to Akismet, reply notifications, and beat's sweep of posts left unchecked.

Each takes ids and is idempotent (a check of an outdated revision, or of a post already
decided, does nothing; a reply is mailed about once). While Akismet is unreachable a check
retries with exponential backoff, without limit: a post is never published unchecked and
never given up on. Beat's sweep re-queues whatever is still pending after a while (a
worker lost mid-retry, or eager mode, which has no queue to hold a retry).
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from forums import spam

logger = logging.getLogger(__name__)


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with jitter, capped at WARREN_AKISMET_RETRY_MAX_SECONDS."""
    cap = settings.WARREN_AKISMET_RETRY_MAX_SECONDS
    return min(cap, 10 * 2 ** min(retries, 20)) * random.uniform(0.5, 1.0)  # noqa: S311


def _retry(task, what: str, error: Exception):
    if task.request.is_eager:
        # No queue to hold a retry: Celery would run it again at once, for ever. The post
        # stays pending and beat's sweep (posts_recheck_stale) asks again later.
        logger.warning("%s: Akismet unreachable, left for the sweep: %s", what, error)
        return
    countdown = backoff_seconds(task.request.retries)
    logger.warning("%s: Akismet unreachable (%s); retry in %.0f s", what, error, countdown)
    raise task.retry(exc=error, countdown=countdown, max_retries=None) from error


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def post_check(self, post_id: int, revision: int) -> None:
    """Check one revision of a post with Akismet and publish, hold or drop it."""
    from forums.services import post_check as check

    try:
        outcome = check(post_id=post_id, revision=revision)
    except spam.Unreachable as error:
        _retry(self, f"post_check {post_id}", error)
        return
    logger.info("post_check %s r%s: %s", post_id, revision, outcome)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def post_report(self, post_id: int, is_spam: bool) -> None:
    """Tell Akismet staff's verdict on a post it had judged (submit-spam / submit-ham)."""
    from forums.models import Post

    post = Post.objects.select_related("author").filter(pk=post_id).first()
    if post is None:
        return
    try:
        spam.report(post, spam=is_spam)
    except spam.Unreachable as error:
        _retry(self, f"post_report {post_id}", error)
    except spam.Refused:
        logger.error("post_report %s: Akismet refused our key; not reported", post_id)


@shared_task(acks_late=True, ignore_result=True)
def reply_notify(post_id: int) -> None:
    """Mail the topic's subscribers about a newly published reply."""
    from forums.services import reply_notify as notify

    notify(post_id=post_id)


@shared_task(acks_late=True, ignore_result=True)
def posts_recheck_stale() -> None:
    """Beat: queue the check again for posts still pending after a while."""
    from config.locks import cache_lock
    from forums.services import posts_recheck_stale as recheck

    with cache_lock("forums:recheck", timeout=240) as held:
        if held:
            recheck(now=timezone.now())
