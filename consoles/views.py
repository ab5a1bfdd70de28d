from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.access import access_record
from config.errors import AppError, error_json, error_response
from consoles import selectors, services
from consoles.models import Console, Launcher, Share
from education.selectors import (
    consoles_shared_with_class_of,
    has_students,
    is_class_shared,
    students_joined_after,
)


def _owned_console(request, console_id: str) -> Console:
    access = selectors.console_access(request.user, console_id)
    if access is None or not access.is_owner:
        raise Http404("No such console")
    return access.console


@require_GET
def index(request):
    consoles = services.console_states_sync(owner=request.user)
    context = {
        "consoles": consoles,
        "shared": selectors.consoles_shared_with(request.user),
        "class_shared": consoles_shared_with_class_of(student=request.user),
        "launchers": selectors.launchers_of(request.user),
        "pythons": selectors.installed_pythons(),
        "ipython": selectors.ipython_installed(),
        "kinds": Console.Kind,
    }
    return render(request, "consoles/index.html", context)


@require_POST
def start(request):
    launcher = None
    if request.POST.get("launcher", "").isdigit():
        launcher = Launcher.objects.filter(owner=request.user, pk=request.POST["launcher"]).first()
    try:
        console = services.console_start(
            owner=request.user,
            kind=request.POST.get("kind", ""),
            python_version=request.POST.get("version", ""),
            launcher=launcher,
        )
    except AppError as exc:
        return error_response(request, exc, "consoles:index")
    return redirect(console)


def _console_context(request, console_id: str) -> dict:
    access = selectors.console_access(request.user, console_id)
    if access is None:
        raise Http404("No such console")
    config = {
        "ws_path": f"/ws/consoles/{access.console.pk}/",
        "read_only": access.read_only,
        "title": access.console.title,
    }
    return {"access": access, "console": access.console, "terminal_config": config}


@require_GET
def console(request, console_id: str):
    context = _console_context(request, console_id)
    if context["access"].is_owner:
        context["shares"] = selectors.shares_of(context["console"])
        context["class_shared"] = is_class_shared(context["console"])
        context["teaches"] = has_students(teacher=request.user)
        if context["teaches"] and context["console"].state == Console.State.RUNNING:
            context["late_students"] = students_joined_after(
                teacher=request.user, moment=context["console"].created_at
            )
    elif context["access"].as_teacher:
        console = context["console"]
        access_record(
            actor=request.user,
            owner=console.owner,
            action="opened the console",
            target=console.title,
        )
    return render(request, "consoles/console.html", context)


@require_GET
def frame(request, console_id: str):
    return render(request, "consoles/frame.html", _console_context(request, console_id))


@require_POST
def kill(request, console_id: str):
    try:
        services.console_kill(console=_owned_console(request, console_id))
    except AppError as exc:
        return error_response(request, exc, "consoles:index")
    messages.success(request, "Console killed.")
    return redirect("consoles:index")


@require_POST
def restart(request, console_id: str):
    try:
        console = services.console_restart(console=_owned_console(request, console_id))
    except AppError as exc:
        return error_response(request, exc, "consoles:index")
    return redirect(console)


@require_POST
def share(request, console_id: str):
    console = _owned_console(request, console_id)
    username = request.POST.get("username", "").strip().lower()
    read_only = request.POST.get("mode", "read-only") != "read-write"
    try:
        services.console_share(console=console, username=username, read_only=read_only)
    except AppError as exc:
        return error_response(request, exc, "consoles:console", console.pk)
    # One message whether or not the user exists (console_share says why); it names the
    # username as typed, never anything read from an account.
    mode = "read-only" if read_only else "read-write"
    messages.success(request, f"Shared with {username} ({mode}) if that user exists.")
    return redirect(console)


@require_POST
def unshare(request, console_id: str, share_id: int):
    console = _owned_console(request, console_id)
    share = get_object_or_404(Share.objects.select_related("user"), console=console, pk=share_id)
    services.console_unshare(share=share)
    messages.success(request, f"{share.user.username} can no longer see this console.")
    return redirect(console)


# --- launchers ----------------------------------------------------------------------------


def _launcher_values(request) -> dict:
    return {
        "name": request.POST.get("name", ""),
        "command": request.POST.get("command", ""),
        "working_directory": request.POST.get("working_directory", ""),
    }


@require_POST
def launcher_create(request):
    try:
        launcher = services.launcher_create(owner=request.user, **_launcher_values(request))
    except AppError as exc:
        return error_response(request, exc, "consoles:index")
    messages.success(request, f"Launcher “{launcher.name}” added.")
    return redirect("consoles:index")


def launcher_edit(request, launcher_id: int):
    launcher = get_object_or_404(Launcher, owner=request.user, pk=launcher_id)
    error = None
    values = {
        "name": launcher.name,
        "command": launcher.command,
        "working_directory": launcher.working_directory,
    }
    if request.method == "POST":
        values = _launcher_values(request)
        try:
            services.launcher_update(launcher=launcher, **values)
        except AppError as exc:
            error = exc
        else:
            messages.success(request, f"Launcher “{launcher.name}” saved.")
            return redirect("consoles:index")
    context = {"launcher": launcher, "values": values, "error": error}
    return render(request, "consoles/launcher_edit.html", context, status=400 if error else 200)


@require_POST
def launcher_delete(request, launcher_id: int):
    launcher = get_object_or_404(Launcher, owner=request.user, pk=launcher_id)
    services.launcher_delete(launcher=launcher)
    messages.success(request, f"Launcher “{launcher.name}” deleted.")
    return redirect("consoles:index")


# --- Save and Run, preferences -------------------------------------------------------------


@require_POST
def run_file(request):
    """Save and Run: JSON in and out, for the editor's button."""
    try:
        console = services.console_run_file(owner=request.user, path=request.POST.get("path", ""))
    except AppError as exc:
        return error_json(exc)
    return JsonResponse({"console": console.pk, "url": console.get_absolute_url()})


@require_POST
def preferences(request):
    try:
        services.preferences_set_python(user=request.user, version=request.POST.get("version", ""))
    except AppError as exc:
        return error_response(request, exc, "account")
    messages.success(request, "Save and Run will use that Python.")
    return redirect("account")
