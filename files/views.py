"""The Files tab: browse, edit, upload, download, create, rename and delete, in the home and
in the web directory (/var/www).

Each view parses the path from the URL (anyone else's path is a 404, unless
accounts.access says the visitor may act on that user's things: their teacher, in their
home), calls one selector or service as the files' owner, and renders. An AppError becomes
a message beside the folder (or JSON, for the page's own scripts), never a 500.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import access_record, owner_or_404
from config.errors import AppError, error_json, error_response, wants_json
from files import selectors, services
from files.agent import NotFound, UserFiles
from files.paths import Location, home_of, parse_location, www_of
from files.uploads import AgentUploadHandler


def _locate(request, path: str, raw_name: str | None = None):
    """(owner, location) for a URL path: one's own files, or a student's home for a teacher.

    The agent then acts as the owner, so what a teacher saves belongs to the student and
    counts against the student's quota.
    """
    components = path.strip("/").split("/")
    owner = request.user
    if components[0] == "home" and len(components) > 1:
        owner = owner_or_404(request.user, components[1])
    return owner, parse_location(owner, path, raw_name)


def _record(request, owner, action: str, location: Location) -> None:
    access_record(actor=request.user, owner=owner, action=action, target=location.shown_path)


def browse_url(location: Location) -> str:
    return reverse("files:browse", kwargs={"path": location.url_path + "/"})


def edit_url(location: Location) -> str:
    return reverse("files:edit", kwargs={"path": location.url_path})


def _problem(request, problem: AppError, back: Location):
    """Show a refusal: JSON to scripts, else a message above the folder it happened in."""
    return error_response(request, problem, browse_url(back))


def _problem_page(request, problem: AppError, location: Location):
    context = {"problem": problem, "location": location, "crumbs": location.crumbs()}
    return render(request, "files/problem.html", context, status=problem.status)


def _done(request, message: str, to: str):
    messages.success(request, message)
    if wants_json(request):
        return JsonResponse({"ok": True, "message": message, "redirect": to})
    return HttpResponseRedirect(to)


@require_GET
def index(request):
    return redirect(browse_url(home_of(request.user)))


@require_GET
def browse(request, path: str):
    owner, location = _locate(request, path)
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    try:
        listing = selectors.directory_listing(user=owner, location=location, page=page)
    except NotFound as missing:
        if missing.errno == "ENOTDIR" and not location.is_root:
            return redirect(edit_url(location))  # a file (or a link to one): open it
        raise
    except AppError as problem:
        return _problem_page(request, problem, location)
    usage = selectors.storage_usage(user=owner)
    _record(request, owner, "opened the folder", location)
    return render(request, "files/browse.html", browse_context(request, listing, usage, owner))


def browse_context(request, listing, usage, owner=None) -> dict:
    """What the folder page shows (shared with bench.files, which times its rendering)."""
    return {
        "location": listing.location,
        "crumbs": listing.location.crumbs(),
        "listing": listing,
        "usage": usage,
        # A teacher reaches a student's home only (/var/www carries no username in URLs).
        "areas": [home_of(request.user), www_of(request.user)]
        if owner in (None, request.user)
        else [home_of(owner)],
        "owner": owner or request.user,
        "upload_max_bytes": settings.WARREN_UPLOAD_MAX_BYTES,
    }


@require_http_methods(["GET", "POST"])
def edit(request, path: str):
    owner, location = _locate(request, path)
    if request.method == "POST":
        return _save(request, owner, location)
    try:
        kind = UserFiles(owner).stat(location)["type"] if not location.is_root else "dir"
        if kind == "dir":
            return redirect(browse_url(location))
        editable = selectors.file_for_editing(user=owner, location=location)
    except AppError as problem:
        return _problem_page(request, problem, location)
    _record(request, owner, "opened", location)
    context = {
        "location": location,
        "crumbs": location.crumbs(),
        "file": editable,
        "editor_actions": settings.WARREN_EDITOR_ACTIONS if owner == request.user else [],
        "owner": owner,
    }
    return render(request, "files/editor.html", context)


def _save(request, owner, location: Location):
    # The editor posts the text as the raw body (not a form): read at most one byte more
    # than the editor may save, so an oversized body is refused without being read whole.
    content = request.read(settings.WARREN_EDITOR_MAX_BYTES + 1)
    try:
        size = services.file_save(user=owner, location=location, content=content)
    except AppError as problem:
        return error_json(problem)
    _record(request, owner, "saved", location)
    return JsonResponse({"ok": True, "message": f"Saved {location.name}.", "size": size})


@require_GET
def download(request, path: str):
    owner, location = _locate(request, path, request.GET.get("raw"))
    try:
        fd, size = UserFiles(owner).open(location, "r")
    except AppError as problem:
        return _problem_page(request, problem, location)
    _record(request, owner, "downloaded", location)
    # Always an attachment and never sniffed: a user's HTML must not run on Warren's origin.
    response = FileResponse(
        os.fdopen(fd, "rb"),
        as_attachment=True,
        filename=location.name.encode("utf-8", "replace").decode("utf-8"),
        content_type="application/octet-stream",
    )
    response["Content-Length"] = str(size)
    return response


# CSRF is checked below, once the upload handler is in place (Django's documented way for
# custom handlers). The check parses the body, so a forged request's files are written under
# temporary names before it is refused; discard() deletes them. (SameSite=Lax session
# cookies already keep other sites' forms from arriving logged in.)
@csrf_exempt
@require_POST
def upload(request, path: str):
    owner, directory = _locate(request, path)
    files = UserFiles(owner)
    try:
        # A link may lead to a folder (the agent follows it, beneath the home); a link to
        # a file is refused when the first file is opened in it.
        if not directory.is_root and files.stat(directory)["type"] not in ("dir", "symlink"):
            raise Http404("not a folder")
    except AppError as problem:
        return _problem(request, problem, directory)
    handler = AgentUploadHandler(
        request,
        user=owner,
        directory=directory,
        usage=selectors.storage_usage(user=owner),
        max_file_bytes=settings.WARREN_UPLOAD_MAX_BYTES,
    )
    request.upload_handlers = [handler]
    try:
        return _upload_checked(request, owner, directory, handler)
    finally:
        # Whatever was not renamed into place (refused, failed, CSRF refused) goes.
        handler.discard()


@csrf_protect
def _upload_checked(request, owner, directory: Location, handler: AgentUploadHandler):
    request.POST  # noqa: B018 - parses the body through the handler (already done by CSRF)
    if handler.problem is not None:
        return _problem(request, handler.problem, directory)
    if not handler.staged:
        problem = AppError("Choose at least one file to upload.", status=400)
        return _problem(request, problem, directory)
    try:
        names = services.uploads_commit(user=owner, directory=directory, staged=handler.staged)
    except AppError as problem:
        return _problem(request, problem, directory)
    for name in names:
        _record(request, owner, "uploaded", directory.child(name))
    count = f"{len(names)} file{'s' if len(names) != 1 else ''}"
    return _done(request, f"Uploaded {count}: {', '.join(names)}.", browse_url(directory))


@require_POST
def create(request, path: str):
    owner, parent = _locate(request, path)
    name = request.POST.get("name", "")
    kind = request.POST.get("kind")
    try:
        if kind == "folder":
            made = services.folder_create(user=owner, parent=parent, name=name)
            _record(request, owner, "created the folder", made)
            return _done(request, f"Created folder {made.shown_name}.", browse_url(parent))
        if kind == "file":
            made = services.file_create(user=owner, parent=parent, name=name)
            _record(request, owner, "created", made)
            return _done(request, f"Created {made.shown_name}.", edit_url(made))
        raise AppError("Choose whether to create a file or a folder.", status=400)
    except AppError as problem:
        return _problem(request, problem, parent)


@require_http_methods(["GET", "POST"])
def rename(request, path: str):
    owner, location = _locate(request, path, request.GET.get("raw"))
    if request.method == "GET":
        return _confirm_page(request, "files/rename.html", owner, location)
    try:
        renamed = services.entry_rename(
            user=owner, location=location, new_name=request.POST.get("name", "")
        )
    except AppError as problem:
        return _problem(request, problem, location.parent)
    _record(request, owner, "renamed", location)
    return _done(
        request,
        f"Renamed {location.shown_name} to {renamed.shown_name}.",
        browse_url(location.parent),
    )


@require_http_methods(["GET", "POST"])
def delete(request, path: str):
    owner, location = _locate(request, path, request.GET.get("raw"))
    if request.method == "GET":
        return _confirm_page(request, "files/delete.html", owner, location)
    try:
        services.entry_delete(user=owner, location=location)
    except AppError as problem:
        return _problem(request, problem, location.parent)
    _record(request, owner, "deleted", location)
    return _done(request, f"Deleted {location.shown_name}.", browse_url(location.parent))


def _confirm_page(request, template: str, owner, location: Location):
    if location.is_root:
        raise Http404("the root of an area cannot be renamed or deleted")
    try:
        entry = UserFiles(owner).stat(location)
    except AppError as problem:
        return _problem_page(request, problem, location)
    context = {"location": location, "crumbs": location.crumbs(), "entry": entry}
    return render(request, template, context)


# --- last night's copy ----------------------------------------------------------------------


def snapshot_url(location: Location) -> str:
    return reverse("files:snapshot", kwargs={"path": location.url_path + "/"})


def _locate_in_home(request, path: str):
    owner, location = _locate(request, path)
    if location.area != "home":
        raise Http404("Only the home is copied each night")
    return owner, location


@require_GET
def snapshot(request, path: str):
    """A folder of last night's copy of the home, read-only, each entry with "Restore as"."""
    owner, location = _locate_in_home(request, path)
    try:
        folder = selectors.snapshot_listing(user=owner, location=location)
    except AppError as problem:
        return _problem_page(request, problem, location)
    _record(request, owner, "opened last night's copy of", location)
    context = {
        "location": location,
        "crumbs": location.crumbs(),
        "entries": folder.entries,
        "copy": folder,
    }
    return render(request, "files/snapshot.html", context)


@require_POST
def snapshot_restore(request, path: str):
    """Copy a file or folder of last night's copy beside where it was, under a new name."""
    owner, location = _locate_in_home(request, path)
    try:
        restored = services.snapshot_restore(
            user=owner, location=location, new_name=request.POST.get("name", "")
        )
    except AppError as problem:
        return error_response(request, problem, snapshot_url(location.parent))
    _record(request, owner, "restored from last night's copy", restored)
    return _done(
        request,
        f"Restored {location.shown_name} from last night's copy as {restored.shown_path}.",
        browse_url(restored.parent),
    )
