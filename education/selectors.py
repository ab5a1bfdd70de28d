"""Reads about teachers and students."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet

from education.models import ClassShare, Teacher, TeacherAction, TeacherLink

STUDENTS_PER_PAGE = 50


def current_links() -> QuerySet[TeacherLink]:
    return TeacherLink.objects.filter(ended_at__isnull=True)


def is_current_teacher_of(*, teacher, student) -> bool:
    return current_links().filter(teacher=teacher, student=student).exists()


def current_teacher_link(*, student) -> TeacherLink | None:
    """The student's current link, with its teacher, or None."""
    return current_links().filter(student=student).select_related("teacher").first()


def student_links_of(*, teacher) -> QuerySet[TeacherLink]:
    """The teacher's current students' links, by username."""
    return (
        current_links()
        .filter(teacher=teacher)
        .select_related(
            "student", "student__file_server", "student__plan", "student__custom_limits"
        )
        .order_by("student__username")
    )


def students_page(*, teacher, page: int | str | None) -> Page:
    """One page of the teacher's current students' links (a class may be thousands)."""
    return Paginator(student_links_of(teacher=teacher), STUDENTS_PER_PAGE).get_page(page)


def has_students(*, teacher) -> bool:
    return current_links().filter(teacher=teacher).exists()


def may_be_teacher(user) -> bool:
    """Whether students may name ``user``: anyone, unless the setting asks for staff's flag."""
    if not settings.WARREN_EDUCATION_TEACHERS_APPROVED:
        return True
    return Teacher.objects.filter(user=user).exists()


def teacher_actions_for(*, student, limit: int = 20) -> list[TeacherAction]:
    """The latest things teachers did to the student's things, newest first."""
    return list(TeacherAction.objects.filter(student=student).select_related("teacher")[:limit])


@dataclass(frozen=True)
class StudentRow:
    """One student as the Education tab lists them."""

    link: TeacherLink
    cpu_seconds_today: float
    consoles_running: int
    web_apps: int
    disk: object  # files.selectors.StorageUsage, or None when the file server cannot say

    @property
    def student(self):
        return self.link.student


def student_rows(*, links: list[TeacherLink], now: datetime) -> list[StudentRow]:
    """The figures for one page of students, in a fixed number of queries plus one disk
    question per student to their file server (a page, not the whole class)."""
    from consoles.models import Console
    from files.selectors import storage_usage
    from servers.models import CpuAccount
    from webapps.models import WebApp

    ids = [link.student_id for link in links]
    running = _counts(
        Console.objects.filter(owner_id__in=ids, state=Console.State.RUNNING), "owner_id"
    )
    apps = _counts(WebApp.objects.filter(user_id__in=ids), "user_id")
    cpu = {}
    for account in CpuAccount.objects.filter(user_id__in=ids):
        # A window that ended has used nothing of today yet (the accounting run rolls it).
        cpu[account.user_id] = account.used_seconds if account.window_end > now else 0.0
    return [
        StudentRow(
            link=link,
            cpu_seconds_today=cpu.get(link.student_id, 0.0),
            consoles_running=running.get(link.student_id, 0),
            web_apps=apps.get(link.student_id, 0),
            disk=storage_usage(user=link.student),
        )
        for link in links
    ]


def _counts(queryset, key: str) -> dict[int, int]:
    return dict(queryset.values(key).annotate(n=Count("pk")).values_list(key, "n"))


def shows_education_tab(user) -> bool:
    """Whether the site shows ``user`` the Education tab: they teach, or staff made them a
    teacher (one query a page, so the tab appears for the first student's teacher)."""
    return (
        get_user_model()
        .objects.filter(pk=user.pk)
        .filter(
            Q(student_links__isnull=False, student_links__ended_at__isnull=True)
            | Q(teacher_approval__isnull=False)
        )
        .exists()
    )


def class_share_reaches(*, console, user) -> bool:
    """Whether ``console`` is shared with its owner's class and ``user`` is in it now."""
    return ClassShare.objects.filter(console=console).exists() and is_current_teacher_of(
        teacher=console.owner, student=user
    )


def consoles_shared_with_class_of(*, student) -> list:
    """The consoles the student's current teacher shared with the class, newest first."""
    link = current_links().filter(student=student).only("teacher_id").first()
    if link is None:
        return []
    shares = ClassShare.objects.filter(console__owner_id=link.teacher_id).select_related(
        "console", "console__owner"
    )
    return sorted((share.console for share in shares), key=lambda c: c.created_at, reverse=True)


def is_class_shared(console) -> bool:
    return ClassShare.objects.filter(console=console).exists()


# As many homes as the execution agent binds into one sandbox (its MAX_EXTRA_HOMES).
MAX_BOUND_HOMES = 2000


def student_homes_of(*, teacher) -> list:
    """The current students whose homes the teacher's sandboxes bind at /home/<student>."""
    links = student_links_of(teacher=teacher)[:MAX_BOUND_HOMES]
    return [link.student for link in links]


def students_joined_after(*, teacher, moment) -> list[str]:
    """Usernames of current students linked after ``moment`` (a console's start): their
    homes appear in the teacher's consoles only once the console server restarts."""
    return list(
        current_links()
        .filter(teacher=teacher, since__gt=moment)
        .order_by("student__username")
        .values_list("student__username", flat=True)[:20]
    )


def classroom_consoles(*, teacher, limit: int) -> tuple[list, int]:
    """(up to ``limit`` running consoles of the teacher's current students, how many run)."""
    from consoles.models import Console

    consoles = Console.objects.filter(
        owner__teacher_links__teacher=teacher,
        owner__teacher_links__ended_at__isnull=True,
        state=Console.State.RUNNING,
    ).select_related("owner")
    total = consoles.count()
    return list(consoles.order_by("owner__username", "created_at")[:limit]), total
