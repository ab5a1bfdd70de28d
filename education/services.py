"""Writes about teachers and students: naming a teacher, ending a link, the audit trail."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.errors import AppError
from education.models import ClassShare, TeacherAction, TeacherLink
from education.selectors import may_be_teacher

MAX_TARGET_CHARS = 500


def teacher_for_nomination(*, username: str, student_username: str) -> User:
    """The user a student called ``student_username`` may name as teacher, or AppError why not.

    Also the sign-up form's check, before the student's account exists.
    """
    username = (username or "").strip().lower()
    if not username:
        raise AppError("Enter your teacher's username.", field="teacher")
    if username == (student_username or "").strip().lower():
        raise AppError("You cannot be your own teacher.", field="teacher")
    teacher = User.objects.filter(username=username, is_active=True).first()
    if teacher is None:
        raise AppError(f"There is no user called “{username}”.", field="teacher")
    if not may_be_teacher(teacher):
        raise AppError(
            f"{username} is not a teacher here: ask them to have staff make them one.",
            field="teacher",
        )
    return teacher


@transaction.atomic
def teacher_nominate(*, student: User, username: str) -> TeacherLink:
    """Make ``username`` the student's teacher, at once; a previous teacher's link ends.

    Web access starts now; the link shows "granting…" until the home's ACLs are set.
    """
    teacher = teacher_for_nomination(username=username, student_username=student.username)
    # Serialises two nominations by the same student (two tabs): the partial unique
    # constraint would refuse the second with an IntegrityError instead of a message.
    User.objects.select_for_update().filter(pk=student.pk).first()
    current = TeacherLink.objects.filter(student=student, ended_at__isnull=True).first()
    if current is not None and current.teacher_id == teacher.pk:
        return current
    if current is not None:
        _end(current, TeacherLink.EndedBy.STUDENT)
    link = TeacherLink.objects.create(
        student=student, teacher=teacher, state=TeacherLink.State.GRANTING
    )
    _sync_home_on_commit(link)
    return link


@transaction.atomic
def teacher_remove(*, link: TeacherLink, by: User) -> None:
    """End a link; either side may. Access ends with it (open consoles within seconds)."""
    link = TeacherLink.objects.select_for_update().get(pk=link.pk)
    if link.ended_at is not None:
        return
    if by.pk == link.student_id:
        ended_by = TeacherLink.EndedBy.STUDENT
    elif by.pk == link.teacher_id:
        ended_by = TeacherLink.EndedBy.TEACHER
    else:
        ended_by = TeacherLink.EndedBy.STAFF
    _end(link, ended_by)


def _end(link: TeacherLink, ended_by: str) -> None:
    link.ended_at = timezone.now()
    link.ended_by = ended_by
    link.state = TeacherLink.State.ENDED
    link.save(update_fields=["ended_at", "ended_by", "state"])
    _sync_home_on_commit(link)


def _sync_home_on_commit(link: TeacherLink) -> None:
    """The home's ACLs follow the link (education.tasks.home_access_sync), after commit."""
    from education.tasks import home_access_sync

    student_id, teacher_id = link.student_id, link.teacher_id
    transaction.on_commit(lambda: home_access_sync.delay(student_id, teacher_id))


def teacher_action_record(*, teacher: User, student: User, action: str, target: str = "") -> None:
    """Add one line to the student's record of what their teacher did."""
    TeacherAction.objects.create(
        teacher=teacher, student=student, action=action, target=target[:MAX_TARGET_CHARS]
    )


@transaction.atomic
def console_share_with_class(*, console) -> ClassShare:
    """Share a console read-only with all the owner's current (and future) students."""
    share, _ = ClassShare.objects.get_or_create(console=console)
    return share


@transaction.atomic
def console_unshare_with_class(*, console) -> None:
    """Revoke the class share for every student at once; their open sockets close."""
    from consoles.services.consoles import notify_sockets

    if ClassShare.objects.filter(console=console).delete()[0]:
        notify_sockets(console.pk, "console.shares_changed")


def classroom_watch_record(*, teacher: User, consoles: list) -> None:
    """Record, once per student, that the teacher watched their consoles in the classroom."""
    seen = {}
    for console in consoles:
        seen.setdefault(console.owner_id, console.title)
    TeacherAction.objects.bulk_create(
        TeacherAction(
            teacher=teacher, student_id=student_id, action="watched the console", target=title
        )
        for student_id, title in seen.items()
    )
