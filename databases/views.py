from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from config.errors import AppError, error_response
from databases import selectors, services
from databases.models import DatabaseServer


@require_GET
def index(request):
    context = {
        "sections": selectors.database_sections(request.user),
        "postgres_plans": selectors.plans_with_postgres(),
        "kinds": DatabaseServer.Kind,
    }
    return render(request, "databases/index.html", context)


@require_POST
def password(request):
    try:
        services.database_password_set(
            user=request.user,
            kind=request.POST.get("kind", ""),
            password=request.POST.get("password", ""),
        )
    except AppError as exc:
        return error_response(request, exc, "databases:index")
    messages.success(request, "Password set. Your consoles log in with it from now on.")
    return redirect("databases:index")


@require_POST
def create(request):
    try:
        database = services.database_create(
            user=request.user, kind=request.POST.get("kind", ""), name=request.POST.get("name", "")
        )
    except AppError as exc:
        return error_response(request, exc, "databases:index")
    messages.success(request, f"Creating {database.name}…")
    return redirect("databases:index")


@require_POST
def delete(request, database_id: int):
    database = selectors.database_of(request.user, database_id)
    if database is None:
        raise Http404("No such database")
    try:
        services.database_delete(
            database=database, confirmation=request.POST.get("confirmation", "")
        )
    except AppError as exc:
        return error_response(request, exc, "databases:index")
    messages.success(request, f"Deleting {database.name}…")
    return redirect("databases:index")


@require_POST
def console(request):
    try:
        started = services.database_console_start(
            user=request.user, kind=request.POST.get("kind", "")
        )
    except AppError as exc:
        return error_response(request, exc, "databases:index")
    return redirect(started)
