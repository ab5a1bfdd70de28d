"""Students (education): a teacher's current students, and ending a link."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema

from api.endpoints.common import Done, responses, self_only
from api.errors import ApiError
from education import selectors, services

router = Router(tags=["students"])


class StudentOut(Schema):
    username: str
    since: datetime
    state: str


@router.get("{username}/students/", response=responses(200, list[StudentOut]))
def student_list(request, username: str):
    """Your current students (their things are reachable through their own usernames)."""
    teacher = self_only(request, username)
    return [
        {"username": link.student.username, "since": link.since, "state": link.state}
        for link in selectors.student_links_of(teacher=teacher)
    ]


@router.delete("{username}/students/{student}/", response=responses(200, Done))
def student_remove(request, username: str, student: str):
    """Stop being this student's teacher (access ends with it)."""
    teacher = self_only(request, username)
    link = selectors.student_links_of(teacher=teacher).filter(student__username=student).first()
    if link is None:
        raise ApiError(404, "No such student")
    services.teacher_remove(link=link, by=teacher)
    return {"ok": True, "detail": f"{student} is no longer your student."}
