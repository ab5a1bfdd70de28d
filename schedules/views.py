"""The Tasks tab: views parse, authorise (owner only, 404 otherwise), call one service, render."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.limits import effective_limits
from config.errors import AppError, error_response
from schedules import selectors, services
from schedules.forms import TaskForm


def log_url(task) -> str | None:
    """The Files editor on the task's log (in the home, as every sandbox sees it)."""
    try:
        return reverse(
            "files:edit",
            kwargs={"path": f"home/{task.owner.username}/{task.log_relative_path}"},
        )
    except NoReverseMatch:
        return None


def _index_context(request, form: TaskForm) -> dict:
    tasks = selectors.task_list(owner=request.user)
    for task in tasks:
        task.owner = request.user  # already known: no query per row for the log link
        task.log_url = log_url(task)
    limits = effective_limits(request.user)
    return {
        "tasks": tasks,
        "form": form,
        "allowed": limits.max_scheduled_tasks,
        "room_for_more": limits.allows("max_scheduled_tasks", len(tasks) + 1),
        "expires": selectors.tasks_expire_for(request.user),
        "now": timezone.now(),
    }


@require_GET
def index(request):
    return render(request, "schedules/index.html", _index_context(request, TaskForm()))


@require_POST
def create(request):
    form = TaskForm(request.POST)
    if form.is_valid():
        try:
            services.task_create(
                owner=request.user,
                command=form.cleaned_data["command"],
                schedule=form.schedule,
                description=form.cleaned_data["description"],
                now=timezone.now(),
            )
        except AppError as error:
            form.add_error(error.field, error)
        else:
            messages.success(request, "Task added.")
            return redirect("schedules:index")
    return render(request, "schedules/index.html", _index_context(request, form), status=400)


@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    task = selectors.task_for_owner(owner=request.user, pk=pk)
    form = TaskForm.for_task(task, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.task_update(
                task=task,
                command=form.cleaned_data["command"],
                schedule=form.schedule,
                description=form.cleaned_data["description"],
                now=timezone.now(),
            )
        except AppError as error:
            form.add_error(error.field, error)
            task.refresh_from_db()
        else:
            messages.success(request, "Task saved.")
            return redirect("schedules:index")
    status = 400 if form.is_bound else 200
    return render(request, "schedules/edit.html", {"task": task, "form": form}, status=status)


@require_POST
def delete(request, pk: int):
    task = selectors.task_for_owner(owner=request.user, pk=pk)
    services.task_delete(task=task)
    messages.success(request, "Task deleted.")
    return redirect("schedules:index")


@require_POST
def enable(request, pk: int):
    task = selectors.task_for_owner(owner=request.user, pk=pk)
    enabled = request.POST.get("enabled") == "1"
    services.task_enable_set(task=task, enabled=enabled, now=timezone.now())
    messages.success(request, "Task enabled." if enabled else "Task disabled.")
    return redirect("schedules:index")


@require_POST
def run_now(request, pk: int):
    task = selectors.task_for_owner(owner=request.user, pk=pk)
    services.task_run_now(task=task, now=timezone.now())
    messages.success(request, "Started. Its output goes to the task's log.")
    return redirect("schedules:index")


@require_POST
def extend(request, pk: int):
    task = selectors.task_for_owner(owner=request.user, pk=pk)
    try:
        services.task_extend(task=task, now=timezone.now())
    except AppError as error:
        return error_response(request, error, "schedules:index")
    messages.success(request, f"Extended: it runs until {task.expires_at:%Y-%m-%d %H:%M} UTC.")
    return redirect("schedules:index")
