"""Web apps: list, create, reload, enable and disable, static files mappings.

Input goes through the Web tab's own forms (webapps.forms) and the same services, so a
domain, a folder or a URL the page refuses is refused here with the same sentence.
"""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from accounts.access import access_record, object_or_404
from api.endpoints.common import Done, an_id, owner_for, responses, self_only
from api.errors import ApiError, form_errors
from webapps import agent, services
from webapps.forms import StaticMappingForm, WizardForm
from webapps.models import StaticMapping, WebApp
from webapps.selectors import webapps_of

router = Router(tags=["webapps"])


class StaticOut(Schema):
    id: int
    url: str
    directory: str
    dotfiles: bool


class WebAppOut(Schema):
    id: int
    domain: str
    framework: str
    python_version: str
    source_dir: str
    working_dir: str
    virtualenv: str
    enabled: bool
    last_reload_at: datetime | None
    last_reload_ok: bool | None
    last_reload_message: str


class WebAppIn(Schema):
    framework: str = "flask"
    python_version: str
    domain: str = ""


class StaticIn(Schema):
    url: str
    directory: str
    dotfiles: bool = False


class ReloadOut(Schema):
    ok: bool
    detail: str
    status: int | None = None
    error_log_tail: str = ""


def _webapp(request, username: str, domain: str) -> WebApp:
    owner = owner_for(request, username)
    queryset = WebApp.objects.prefetch_related("static_mappings")
    return object_or_404(queryset, actor=request.auth, owner="user", domain=domain, user=owner)


def _record(request, webapp: WebApp, action: str) -> None:
    access_record(actor=request.auth, owner=webapp.user, action=action, target=webapp.domain)


def _reload_out(result) -> dict:
    return {
        "ok": result.ok,
        "detail": result.message,
        "status": result.status,
        "error_log_tail": result.error_log_tail,
    }


@router.get("{username}/webapps/", response=responses(200, list[WebAppOut]))
def webapp_list(request, username: str):
    return list(webapps_of(owner_for(request, username)).order_by("pk"))


@router.post("{username}/webapps/", response=responses(201, WebAppOut))
def webapp_create(request, username: str, body: WebAppIn):
    """Create a web app with a working hello page, as the Web tab's wizard does."""
    owner = self_only(request, username)
    form = WizardForm(body.dict(), user=owner, pythons=agent.available_pythons())
    if not form.is_valid():
        raise ApiError(400, form_errors(form))
    webapp, _ = services.webapp_create(user=owner, **form.cleaned_data)
    webapp.refresh_from_db()
    return Status(201, webapp)


@router.get("{username}/webapps/{domain}/", response=responses(200, WebAppOut))
def webapp_get(request, username: str, domain: str):
    return _webapp(request, username, domain)


@router.post("{username}/webapps/{domain}/reload/", response=responses(200, ReloadOut))
def webapp_reload(request, username: str, domain: str):
    """Apply the saved settings and restart the app; says whether it came back up."""
    webapp = _webapp(request, username, domain)
    _record(request, webapp, "reloaded")
    return _reload_out(services.webapp_reload(webapp=webapp))


@router.post("{username}/webapps/{domain}/enable/", response=responses(200, ReloadOut))
def webapp_enable(request, username: str, domain: str):
    webapp = _webapp(request, username, domain)
    _record(request, webapp, "switched on or off")
    return _reload_out(services.webapp_set_enabled(webapp=webapp, enabled=True))


@router.post("{username}/webapps/{domain}/disable/", response=responses(200, ReloadOut))
def webapp_disable(request, username: str, domain: str):
    webapp = _webapp(request, username, domain)
    _record(request, webapp, "switched on or off")
    return _reload_out(services.webapp_set_enabled(webapp=webapp, enabled=False))


@router.get("{username}/webapps/{domain}/static_files/", response=responses(200, list[StaticOut]))
def static_list(request, username: str, domain: str):
    return list(_webapp(request, username, domain).static_mappings.order_by("pk"))


@router.post("{username}/webapps/{domain}/static_files/", response=responses(201, StaticOut))
def static_add(request, username: str, domain: str, body: StaticIn):
    """Serve a folder of the home at a URL, from the next reload."""
    webapp = _webapp(request, username, domain)
    form = StaticMappingForm(body.dict(), webapp=webapp)
    if not form.is_valid():
        raise ApiError(400, form_errors(form))
    mapping = services.static_mapping_add(webapp=webapp, **form.cleaned_data)
    _record(request, webapp, "added a static mapping to")
    return Status(201, mapping)


@router.delete(
    "{username}/webapps/{domain}/static_files/{mapping_id}/", response=responses(200, Done)
)
def static_remove(request, username: str, domain: str, mapping_id: int = an_id()):
    webapp = _webapp(request, username, domain)
    mapping = get_object_or_404(StaticMapping, pk=mapping_id, webapp=webapp)
    services.static_mapping_remove(mapping=mapping)
    _record(request, webapp, "removed a static mapping of")
    return {"ok": True, "detail": f"{mapping.url} is no longer mapped (from the next reload)."}
