"""Keeping a student's home in line with their links: the teacher's uid granted on it (POSIX
ACLs through the fileserver agent) while the link is current, and taken off when it ends.

One task, ``home_access_sync``, for both directions: it reads what should be true when it
runs, under a per-student lock, and checks again after the (possibly long) agent call, so a
link ended mid-grant, or a teacher named again mid-revoke, never leaves access behind or
takes it from a current teacher. Ids in, idempotent, acks_late, retried with backoff while
the file server is down.
"""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.models import User
from config.locks import cache_lock
from education.models import TeacherLink
from files import fileserver
from files.tasks import TRANSIENT_ERRORS, backoff_seconds
from fileserver_agent.client import FileserverRequestError

logger = logging.getLogger(__name__)

# Longer than the agent's own limit on one setfacl walk, so the lock never lapses mid-call.
LOCK_SECONDS = 900
MAX_PASSES = 3


def _wanted(student_id: int, teacher_id: int) -> bool:
    return TeacherLink.objects.filter(
        student_id=student_id, teacher_id=teacher_id, ended_at__isnull=True
    ).exists()


@shared_task(bind=True, acks_late=True, max_retries=None)
def home_access_sync(self, student_id: int, teacher_id: int) -> None:
    """Grant or revoke the teacher's uid on the student's home, whichever the links say now."""
    student = User.objects.select_related("file_server").filter(pk=student_id).first()
    teacher = User.objects.filter(pk=teacher_id).first()
    if student is None or teacher is None:
        return
    with cache_lock(f"education:home_access:{student_id}", timeout=LOCK_SECONDS) as held:
        if not held:
            # Another sync for this student is running: run after it, with what is true then.
            raise self.retry(countdown=backoff_seconds(self.request.retries))
        for _ in range(MAX_PASSES):
            wanted = _wanted(student_id, teacher_id)
            try:
                fileserver.home_acl(student, grantee_uid=teacher.uid, grant=wanted)
            except TRANSIENT_ERRORS as error:
                if self.request.is_eager:
                    logger.error("home_access_sync %s: file server unavailable: %s", student, error)
                    return
                raise self.retry(
                    exc=error, countdown=backoff_seconds(self.request.retries)
                ) from error
            except FileserverRequestError as error:
                logger.error("home_access_sync %s refused, not retried: %s", student, error)
            if _wanted(student_id, teacher_id) == wanted:
                break
    TeacherLink.objects.filter(
        student_id=student_id,
        teacher_id=teacher_id,
        ended_at__isnull=True,
        state=TeacherLink.State.GRANTING,
    ).update(state=TeacherLink.State.ACTIVE)
