"""The Education tab (a teacher's students) and the student's side of the link (Account tab).

Thin: parse, call one service or selector, render. A student URL names a student by
username; anyone who is not that student's current teacher gets a 404.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from config.errors import AppError, error_response
from education import selectors, services
from education.models import TeacherLink


def _link_or_404(request, username: str) -> TeacherLink:
    link = (
        selectors.student_links_of(teacher=request.user).filter(student__username=username).first()
    )
    if link is None:
        raise Http404("No such student")
    return link


@require_GET
def index(request):
    page = selectors.students_page(teacher=request.user, page=request.GET.get("page"))
    rows = selectors.student_rows(links=list(page.object_list), now=timezone.now())
    context = {"page": page, "rows": rows, "may_teach": selectors.may_be_teacher(request.user)}
    return render(request, "education/index.html", context)


@require_GET
def classroom(request):
    """The live grid: every student's running console, read-only and small, capped."""
    limit = settings.WARREN_EDUCATION_CLASSROOM_MAX
    consoles, total = selectors.classroom_consoles(teacher=request.user, limit=limit)
    services.classroom_watch_record(teacher=request.user, consoles=consoles)
    cells = [
        {
            "id": console.pk,
            "title": console.title,
            "owner": console.owner.username,
            "ws_path": f"/ws/consoles/{console.pk}/",
            "url": console.get_absolute_url(),
        }
        for console in consoles
    ]
    context = {"cells": cells, "total": total, "limit": limit}
    return render(request, "education/classroom.html", context)


@require_GET
def student(request, username: str):
    from consoles.selectors import consoles_of
    from schedules.selectors import always_on_list, task_list
    from webapps.selectors import webapps_of

    link = _link_or_404(request, username)
    context = {
        "link": link,
        "student": link.student,
        "row": selectors.student_rows(links=[link], now=timezone.now())[0],
        "consoles": consoles_of(link.student).order_by("-created_at"),
        "webapps": webapps_of(link.student).order_by("domain"),
        "tasks": task_list(owner=link.student),
        "always_on": always_on_list(owner=link.student),
    }
    return render(request, "education/student.html", context)


@require_POST
def student_remove(request, username: str):
    link = _link_or_404(request, username)
    services.teacher_remove(link=link, by=request.user)
    messages.success(request, f"{username} is no longer your student.")
    return redirect("education:index")


@require_POST
def teacher_nominate(request):
    try:
        link = services.teacher_nominate(
            student=request.user, username=request.POST.get("teacher", "")
        )
    except AppError as problem:
        return error_response(request, problem, "account")
    messages.success(request, f"{link.teacher.username} is now your teacher.")
    return redirect("account")


@require_POST
def teacher_remove(request):
    link = selectors.current_teacher_link(student=request.user)
    if link is None:
        messages.info(request, "You have no teacher.")
        return redirect("account")
    services.teacher_remove(link=link, by=request.user)
    messages.success(request, f"{link.teacher.username} is no longer your teacher.")
    return redirect("account")


def _own_console_or_404(request, console_id: str):
    from consoles.selectors import console_access

    access = console_access(request.user, console_id)
    if access is None or not access.is_owner:
        raise Http404("No such console")
    return access.console


@require_POST
def console_share(request, console_id: str):
    console = _own_console_or_404(request, console_id)
    services.console_share_with_class(console=console)
    messages.success(request, "Shared read-only with all your students.")
    return redirect(console)


@require_POST
def console_unshare(request, console_id: str):
    console = _own_console_or_404(request, console_id)
    services.console_unshare_with_class(console=console)
    messages.success(request, "Your students can no longer see this console.")
    return redirect(console)
