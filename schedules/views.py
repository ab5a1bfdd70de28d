"""The Tasks tab: views parse, authorise (the owner or their teacher, 404 otherwise:
accounts.access), call one service, render."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import access_record
from accounts.limits import effective_limits
from config.errors import AppError, error_response
from schedules import selectors, services
from schedules.forms import AlwaysOnForm, TaskForm


def log_url(task) -> str | None:
    """The Files editor on the task's log (in the home, as every sandbox sees it)."""
    try:
        return reverse(
            "files:edit",
            kwargs={"path": f"home/{task.owner.username}/{task.log_relative_path}"},
        )
    except NoReverseMatch:
        return None


def _task(request, pk: int, action: str):
    """The task at ``pk`` for this request's user, recorded when a teacher acts on it."""
    task = selectors.task_for_actor(actor=request.user, pk=pk)
    access_record(actor=request.user, owner=task.owner, action=action, target=task.label)
    return task


def _back(request, task) -> str:
    """Where an action on ``task`` returns: the Tasks tab, or a teacher's page of the student."""
    if task.owner_id == request.user.pk:
        return reverse("schedules:index")
    return reverse("education:student", args=[task.owner.username])


def always_on_state(task, status: dict | None) -> str:
    """What the Tasks tab says of an always-on task, from its server's answer."""
    if not task.enabled:
        return "stopped"
    if status is None:
        return "not running (the server has not started it)"
    if status["state"] == "waiting" and status.get("restart_in") is not None:
        return f"restarting in {status['restart_in']:.0f} s"
    return {"running": "running", "starting": "starting"}.get(status["state"], "stopped")


def _always_on_rows(owner) -> list:
    tasks = selectors.always_on_list(owner=owner)
    states = selectors.always_on_states(owner=owner, tasks=tasks)
    for task in tasks:
        task.owner = owner
        task.log_url = log_url(task)
        task.status = states.get(task.pk)
        task.state_text = always_on_state(task, task.status)
    return tasks


def _index_context(request, form: TaskForm, always_on_form: AlwaysOnForm | None = None) -> dict:
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
        "always_on": _always_on_rows(request.user),
        "always_on_form": always_on_form or AlwaysOnForm(),
        "always_on_allowed": limits.max_always_on_tasks,
        "always_on_for_plan": selectors.always_on_allowed_for(request.user),
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
    action = "changed the task" if request.method == "POST" else "opened the task"
    task = _task(request, pk, action)
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
            return redirect(_back(request, task))
    status = 400 if form.is_bound else 200
    context = {"task": task, "form": form, "back": _back(request, task)}
    return render(request, "schedules/edit.html", context, status=status)


@require_POST
def delete(request, pk: int):
    task = _task(request, pk, "deleted the task")
    back = _back(request, task)
    services.task_delete(task=task)
    messages.success(request, "Task deleted.")
    return redirect(back)


@require_POST
def enable(request, pk: int):
    enabled = request.POST.get("enabled") == "1"
    task = _task(request, pk, "enabled the task" if enabled else "disabled the task")
    services.task_enable_set(task=task, enabled=enabled, now=timezone.now())
    messages.success(request, "Task enabled." if enabled else "Task disabled.")
    return redirect(_back(request, task))


@require_POST
def run_now(request, pk: int):
    task = _task(request, pk, "ran the task now")
    services.task_run_now(task=task, now=timezone.now())
    messages.success(request, "Started. Its output goes to the task's log.")
    return redirect(_back(request, task))


@require_POST
def extend(request, pk: int):
    task = _task(request, pk, "extended the task")
    try:
        services.task_extend(task=task, now=timezone.now())
    except AppError as error:
        return error_response(request, error, _back(request, task))
    messages.success(request, f"Extended: it runs until {task.expires_at:%Y-%m-%d %H:%M} UTC.")
    return redirect(_back(request, task))


# --- always-on tasks --------------------------------------------------------------------------


def _always_on(request, pk: int, action: str):
    task = selectors.always_on_for_actor(actor=request.user, pk=pk)
    access_record(
        actor=request.user, owner=task.owner, action=f"{action} (always-on)", target=task.label
    )
    return task


@require_POST
def always_on_create(request):
    form = AlwaysOnForm(request.POST)
    if form.is_valid():
        try:
            services.always_on_create(
                owner=request.user,
                command=form.cleaned_data["command"],
                description=form.cleaned_data["description"],
            )
        except AppError as error:
            form.add_error(error.field, error)
        else:
            messages.success(request, "Always-on task added: it starts in a moment.")
            return redirect("schedules:index")
    context = _index_context(request, TaskForm(), always_on_form=form)
    return render(request, "schedules/index.html", context, status=400)


@require_http_methods(["GET", "POST"])
def always_on_edit(request, pk: int):
    action = "changed the task" if request.method == "POST" else "opened the task"
    task = _always_on(request, pk, action)
    form = AlwaysOnForm.for_task(task, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.always_on_update(
                task=task,
                command=form.cleaned_data["command"],
                description=form.cleaned_data["description"],
            )
        except AppError as error:
            form.add_error(error.field, error)
            task.refresh_from_db()
        else:
            messages.success(request, "Always-on task saved.")
            return redirect(_back(request, task))
    status = 400 if form.is_bound else 200
    context = {"task": task, "form": form, "back": _back(request, task)}
    return render(request, "schedules/always_on_edit.html", context, status=status)


@require_POST
def always_on_delete(request, pk: int):
    task = _always_on(request, pk, "deleted the task")
    back = _back(request, task)
    services.always_on_delete(task=task)
    messages.success(request, "Always-on task deleted: it stops in a moment.")
    return redirect(back)


@require_POST
def always_on_enable(request, pk: int):
    enabled = request.POST.get("enabled") == "1"
    task = _always_on(request, pk, "started the task" if enabled else "stopped the task")
    try:
        services.always_on_enable_set(task=task, enabled=enabled)
    except AppError as error:
        return error_response(request, error, _back(request, task))
    messages.success(request, "Started." if enabled else "Stopped.")
    return redirect(_back(request, task))


@require_POST
def always_on_restart(request, pk: int):
    task = _always_on(request, pk, "restarted the task")
    try:
        services.always_on_restart(task=task)
    except AppError as error:
        return error_response(request, error, _back(request, task))
    messages.success(request, "Restarted.")
    return redirect(_back(request, task))
