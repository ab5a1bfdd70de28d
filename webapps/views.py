"""The Web tab: views parse, authorise (the owner or their teacher through accounts.access,
404 otherwise), call one service, render. What a teacher does is recorded for the student."""

import os

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import access_record
from accounts.limits import effective_limits
from config.errors import AppError, error_response
from webapps import agent, https, selectors, services
from webapps.forms import (
    CertificateUploadForm,
    HstsForm,
    PasswordForm,
    SettingForm,
    StaticMappingForm,
    WizardForm,
)
from webapps.models import StaticMapping
from webapps.validation import default_domain

EDITABLE = ("source_dir", "working_dir", "virtualenv", "python_version", "workers", "domain")


def editor_url(path: str) -> str | None:
    """The Files tab's editor for an absolute in-sandbox path (None if it names no file)."""
    try:
        return reverse("files:edit", kwargs={"path": path.lstrip("/")})
    except NoReverseMatch:
        return None


def _record(request, webapp, action: str) -> None:
    access_record(actor=request.user, owner=webapp.user, action=action, target=webapp.domain)


def index(request):
    apps = list(selectors.webapps_of(request.user))
    if apps:
        return redirect("webapps:detail", pk=apps[0].pk)
    return render(request, "webapps/index.html", _wizard_context(request, None))


def _wizard_context(request, form) -> dict:
    pythons = agent.available_pythons()
    apps = list(selectors.webapps_of(request.user))
    return {
        "form": form or WizardForm(user=request.user, pythons=pythons),
        "own_address": default_domain(request.user),
        **_room_context(request.user, apps),
    }


def _room_context(user, apps) -> dict:
    """What the pages need to offer another app, or the limit and the plan that lifts it."""
    limits = effective_limits(user)
    room = limits.allows("max_web_apps", len(apps) + 1)
    return {
        "apps": apps,
        "limits": limits,
        "room_for_more": room,
        "upgrade_plan": None if room else selectors.plan_for_more_webapps(len(apps) + 1),
    }


@require_http_methods(["GET", "POST"])
def new(request):
    if request.method == "GET":
        return render(request, "webapps/new.html", _wizard_context(request, None))
    form = WizardForm(request.POST, user=request.user, pythons=agent.available_pythons())
    if form.is_valid():
        try:
            webapp, result = services.webapp_create(user=request.user, **form.cleaned_data)
        except AppError as exc:
            form.add_error(None, exc)
        else:
            _report(request, result)
            return redirect("webapps:detail", pk=webapp.pk)
    return render(request, "webapps/new.html", _wizard_context(request, form), status=400)


def _report(request, result) -> None:
    if result.ok:
        messages.success(request, result.message)
    else:
        messages.error(request, result.message)


def detail(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "opened the web app")
    return render(request, "webapps/detail.html", _detail_context(request, webapp))


def _detail_context(request, webapp, **extra) -> dict:
    return {
        "webapp": webapp,
        **_room_context(webapp.user, list(selectors.webapps_of(webapp.user))),
        "settings_rows": [_row(webapp, field) for field in EDITABLE],
        "virtualenv_warning": selectors.virtualenv_warning(webapp),
        "wsgi_editor_url": editor_url(webapp.wsgi_file),
        "static_form": StaticMappingForm(webapp=webapp),
        "password_form": PasswordForm(initial={"username": webapp.auth_username}),
        "certificate": selectors.certificate_of(webapp),
        "certificate_form": CertificateUploadForm(),
        "hsts_form": HstsForm(initial={"hsts_max_age": webapp.hsts_max_age}),
        "log_kinds": agent.LOG_KINDS,
        **extra,
    }


def _row(webapp, field: str) -> dict:
    value = getattr(webapp, field)
    return {"field": field, "label": SettingForm.LABELS[field], "value": value}


@require_http_methods(["GET", "POST"])
def setting(request, pk: int, field: str):
    """Inline edit of one setting (htmx swaps the row; without htmx, a plain form post)."""
    webapp = selectors.webapp_of(request.user, pk)
    if field not in EDITABLE:
        raise Http404("no such setting")
    pythons = agent.available_pythons() if field == "python_version" else []
    if request.method == "GET":
        if request.GET.get("cancel"):
            return render(
                request, "webapps/_setting.html", {"row": _row(webapp, field), "webapp": webapp}
            )
        form = SettingForm(webapp=webapp, field=field, pythons=pythons)
        return render(
            request, "webapps/_setting_form.html", {"form": form, "webapp": webapp, "field": field}
        )
    form = SettingForm(request.POST, webapp=webapp, field=field, pythons=pythons)
    if not form.is_valid():
        return render(
            request,
            "webapps/_setting_form.html",
            {"form": form, "webapp": webapp, "field": field},
            status=400 if not request.htmx else 200,
        )
    value = form.cleaned_data["value"]
    if field == "domain":
        try:
            result = services.webapp_set_domain(webapp=webapp, domain=value)
        except AppError as exc:
            form.add_error("value", exc)
            return render(
                request,
                "webapps/_setting_form.html",
                {"form": form, "webapp": webapp, "field": field},
            )
        _record(request, webapp, "changed the domain of")
        _report(request, result)
        return _back_to_detail(request, webapp)
    services.webapp_update(webapp=webapp, **{field: value})
    _record(request, webapp, f"changed {SettingForm.LABELS[field]} of")
    if request.htmx:
        return render(
            request,
            "webapps/_setting.html",
            {"row": _row(webapp, field), "webapp": webapp, "saved": True},
        )
    messages.success(request, f"{SettingForm.LABELS[field]} saved: press Reload to apply it.")
    return redirect("webapps:detail", pk=webapp.pk)


def _back_to_detail(request, webapp):
    url = reverse("webapps:detail", args=[webapp.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_POST
def reload(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "reloaded")
    result = services.webapp_reload(webapp=webapp)
    if request.htmx:
        return render(request, "webapps/_reload_result.html", {"result": result, "webapp": webapp})
    _report(request, result)
    return redirect("webapps:detail", pk=webapp.pk)


@require_POST
def verify_domain(request, pk: int):
    """Check now: look for the custom domain's TXT record and serve the app once it is there."""
    webapp = selectors.webapp_of(request.user, pk)
    try:
        result = services.webapp_verify_domain(webapp=webapp)
    except AppError as exc:
        return error_response(request, exc, "webapps:detail", webapp.pk)
    messages.success(request, f"{webapp.domain} is yours: the TXT record checks out.")
    _report(request, result)
    return redirect("webapps:detail", pk=webapp.pk)


@require_POST
def enabled(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "switched on or off")
    turn_on = request.POST.get("enabled") == "on"
    result = services.webapp_set_enabled(webapp=webapp, enabled=turn_on)
    _report(request, result)
    return redirect("webapps:detail", pk=webapp.pk)


@require_POST
def force_https(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "changed HTTPS of")
    try:
        services.webapp_update(webapp=webapp, force_https=request.POST.get("force_https") == "on")
    except AppError as exc:
        return error_response(request, exc, "webapps:detail", webapp.pk)
    messages.success(request, "HTTPS setting saved: press Reload to apply it.")
    return redirect("webapps:detail", pk=webapp.pk)


@require_POST
def hsts(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    form = HstsForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, webapp, hsts_form=form)
        return render(request, "webapps/detail.html", context, status=400)
    _record(request, webapp, "changed HSTS of")
    services.webapp_update(webapp=webapp, hsts_max_age=form.cleaned_data["hsts_max_age"])
    messages.success(request, "HSTS setting saved: press Reload to apply it.")
    return redirect("webapps:detail", pk=webapp.pk)


@require_POST
def certificate_upload(request, pk: int):
    """Upload your own: checked, served at once, or refused with the site unchanged."""
    webapp = selectors.webapp_of(request.user, pk)
    form = CertificateUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            https.certificate_upload(
                webapp=webapp,
                certificate=form.cleaned_data["certificate_bytes"],
                key=form.cleaned_data["key_bytes"],
            )
        except AppError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc)
    if not form.is_valid():
        context = _detail_context(request, webapp, certificate_form=form)
        return render(request, "webapps/detail.html", context, status=400)
    _record(request, webapp, "uploaded a certificate for")
    messages.success(request, f"{webapp.domain} is now served over HTTPS with your certificate.")
    return redirect(reverse("webapps:detail", args=[webapp.pk]) + "#https")


@require_POST
def certificate_request(request, pk: int):
    """Get a certificate automatically (ACME): a task on the web server's queue does it."""
    webapp = selectors.webapp_of(request.user, pk)
    try:
        https.certificate_request(webapp=webapp)
    except AppError as exc:
        return error_response(request, exc, "webapps:detail", webapp.pk)
    _record(request, webapp, "asked for a certificate for")
    messages.success(
        request, f"Asking for a certificate for {webapp.domain}: this page says how it went."
    )
    return redirect(reverse("webapps:detail", args=[webapp.pk]) + "#https")


@require_POST
def certificate_remove(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "removed the certificate of")
    https.certificate_remove(webapp=webapp)
    messages.success(request, f"{webapp.domain} is served over plain HTTP only again.")
    return redirect(reverse("webapps:detail", args=[webapp.pk]) + "#https")


@require_POST
def password(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "changed the password of")
    if request.POST.get("clear"):
        services.webapp_clear_password(webapp=webapp)
        messages.success(request, "Password protection removed: press Reload to apply it.")
        return redirect("webapps:detail", pk=webapp.pk)
    form = PasswordForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, webapp, password_form=form)
        return render(request, "webapps/detail.html", context, status=400)
    services.webapp_set_password(webapp=webapp, **form.cleaned_data)
    messages.success(request, "Password protection saved: press Reload to apply it.")
    return redirect("webapps:detail", pk=webapp.pk)


@require_POST
def static_add(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "added a static mapping to")
    form = StaticMappingForm(request.POST, webapp=webapp)
    if form.is_valid():
        try:
            mapping = services.static_mapping_add(webapp=webapp, **form.cleaned_data)
        except AppError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Static files mapping added: press Reload to apply it.")
            if mapping.covers_home:
                messages.warning(
                    request,
                    f"{mapping.url} publishes your whole home: anyone can download any file "
                    "in it. Map a folder that holds only your site's files instead.",
                )
            return redirect("webapps:detail", pk=webapp.pk)
    context = _detail_context(request, webapp, static_form=form)
    return render(request, "webapps/detail.html", context, status=400)


@require_POST
def static_delete(request, pk: int, mapping_pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "removed a static mapping of")
    mapping = get_object_or_404(StaticMapping, pk=mapping_pk, webapp=webapp)
    services.static_mapping_remove(mapping=mapping)
    messages.success(request, "Static files mapping removed: press Reload to apply it.")
    return redirect("webapps:detail", pk=webapp.pk)


@require_POST
def delete(request, pk: int):
    webapp = selectors.webapp_of(request.user, pk)
    if webapp.user_id != request.user.pk:
        # Deleting is the owner's alone: a teacher adjusts and reloads, never removes.
        raise Http404("No such web app")
    try:
        services.webapp_delete(webapp=webapp)
    except (agent.AgentError, agent.AgentUnavailable) as exc:
        messages.error(request, f"Could not remove {webapp.domain} from the web server: {exc}")
        return redirect("webapps:detail", pk=webapp.pk)
    messages.success(request, f"{webapp.domain} was deleted; your files are still there.")
    return redirect("webapps:index")


def _log_kind(kind: str) -> str:
    if kind not in agent.LOG_KINDS:
        raise Http404("no such log")
    return kind


def _log_rotation(request) -> int:
    """?previous=n picks a rotated file of the log (1 the newest); none, the current file."""
    value = request.GET.get("previous", "")
    if not value:
        return 0
    if not value.isdigit() or not 1 <= int(value) <= agent.LOG_KEEP:
        raise Http404("no such previous log")
    return int(value)


def log(request, pk: int, kind: str):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "read a log of")
    rotation = _log_rotation(request)
    tail = selectors.log_tail(webapp, _log_kind(kind), rotation=rotation)
    context = {
        "webapp": webapp,
        "kind": kind,
        "tail": tail,
        "rotation": rotation,
        "max_size": agent.LOG_MAX_BYTES,
        "log_kinds": agent.LOG_KINDS,
    }
    template = "webapps/_log_tail.html" if request.htmx else "webapps/log.html"
    return render(request, template, context)


def log_download(request, pk: int, kind: str):
    webapp = selectors.webapp_of(request.user, pk)
    _record(request, webapp, "downloaded a log of")
    rotation = _log_rotation(request)
    try:
        fd, _ = selectors.log_file(webapp, _log_kind(kind), rotation=rotation)
    except agent.AgentError:
        raise Http404("this log is empty so far") from None
    except agent.AgentUnavailable:
        return HttpResponse("The web server is unreachable right now.", status=503)
    suffix = f".{rotation}" if rotation else ""
    return FileResponse(
        os.fdopen(fd, "rb"),
        as_attachment=True,
        filename=f"{webapp.domain}.{kind}.log{suffix}",
        content_type="text/plain; charset=utf-8",
    )
