"""Writes about web apps: create, change settings, reload, remove.

Settings are saved first and reach the web server on Reload (as on PythonAnywhere), except
where a change only makes sense applied at once: enabling, disabling, renaming, deleting.
"""

import contextlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.limits import effective_limits
from accounts.models import User
from accounts.selectors import cheapest_plan_allowing
from execution_agent import webclient
from servers.agents import user_ref
from servers.models import Server
from servers.selectors import first_active_server
from webapps import quickstart
from webapps.agent import AgentError, AgentUnavailable, app_settings, web_agent
from webapps.models import StaticMapping, WebApp
from webapps.validation import clean_domain, default_domain, hash_password

SETTING_FIELDS = ("source_dir", "working_dir", "virtualenv", "python_version", "workers")


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    message: str
    status: int | None = None
    error_log_tail: str = ""
    server_log_tail: str = ""


def _check_room_for_another(user) -> None:
    limits = effective_limits(user)
    count = WebApp.objects.filter(user=user).count()
    if limits.allows("max_web_apps", count + 1):
        return
    plan = cheapest_plan_allowing(field="max_web_apps", count=count + 1)
    hint = f" The {plan.name} plan allows {plan.max_web_apps}." if plan else ""
    raise ValidationError(
        f"Your plan allows {limits.max_web_apps} web app"
        f"{'s' if limits.max_web_apps != 1 else ''}.{hint}"
    )


def webapp_create(
    *, user, framework: str, python_version: str, domain: str = ""
) -> tuple[WebApp, ReloadResult]:
    """Create a web app with a working hello page: project files, WSGI file, vassal, nginx."""
    _check_room_for_another(user)
    domain = clean_domain(user, domain or default_domain(user))
    source_dir = quickstart.create_project(
        user=user, framework=framework, python_version=python_version, domain=domain
    )
    with transaction.atomic():
        # Lock the user's row: two creations at once must not both slip under the limit.
        User.objects.select_for_update().filter(pk=user.pk).first()
        _check_room_for_another(user)
        webapp = WebApp.objects.create(
            user=user,
            server=first_active_server(kind=Server.Kind.WEB),
            domain=domain,
            framework=framework,
            python_version=python_version,
            source_dir=source_dir,
            working_dir=source_dir or user.home_path,
        )
    return webapp, webapp_reload(webapp=webapp)


@transaction.atomic
def webapp_update(*, webapp: WebApp, **changes) -> WebApp:
    """Save already validated settings; they reach the web server on the next Reload."""
    unknown = set(changes) - set(SETTING_FIELDS) - {"force_https"}
    if unknown:
        raise TypeError(f"webapp_update: cannot set {sorted(unknown)}")
    for name, value in changes.items():
        setattr(webapp, name, value)
    webapp.save(update_fields=[*changes, "updated_at"])
    return webapp


def webapp_set_password(*, webapp: WebApp, username: str, password: str) -> WebApp:
    """Protect the site with one username and password (applied on Reload)."""
    webapp.auth_username = username
    webapp.auth_password_hash = hash_password(password)
    webapp.save(update_fields=["auth_username", "auth_password_hash", "updated_at"])
    return webapp


def webapp_clear_password(*, webapp: WebApp) -> WebApp:
    webapp.auth_username = ""
    webapp.auth_password_hash = ""
    webapp.save(update_fields=["auth_username", "auth_password_hash", "updated_at"])
    return webapp


def static_mapping_add(
    *, webapp: WebApp, url: str, directory: str, dotfiles: bool = False
) -> StaticMapping:
    """Serve directory (inside the home, already checked) at url, from the next Reload;
    names starting with a dot only if dotfiles."""
    if webapp.static_mappings.filter(url=url).exists():
        raise ValidationError(f"{url} is already mapped.")
    return StaticMapping.objects.create(
        webapp=webapp, url=url, directory=directory, dotfiles=dotfiles
    )


def static_mapping_remove(*, mapping: StaticMapping) -> None:
    mapping.delete()


def webapp_set_enabled(*, webapp: WebApp, enabled: bool) -> ReloadResult:
    """Switch the site on or off at once: off, visitors get Warren's page instead."""
    webapp.enabled = enabled
    webapp.save(update_fields=["enabled", "updated_at"])
    return webapp_reload(webapp=webapp)


def webapp_set_domain(*, webapp: WebApp, domain: str) -> ReloadResult:
    """Move the app to another address (a new WSGI file is made for it if there is none)."""
    domain = clean_domain(webapp.user, domain, current=webapp)
    if domain == webapp.domain:
        return webapp_reload(webapp=webapp)
    old = webapp.domain
    webapp.domain = domain
    webapp.save(update_fields=["domain", "updated_at"])
    # The new address works regardless; an unreachable server keeps the old block until
    # the app is deleted.
    with contextlib.suppress(AgentError, AgentUnavailable):
        webclient.web_remove(web_agent(webapp.server), user=user_ref(webapp.user), domain=old)
    return webapp_reload(webapp=webapp)


def webapp_reload(*, webapp: WebApp) -> ReloadResult:
    """Render the configuration, reload nginx if needed, touch the WSGI file, test the site."""
    settings_sent = app_settings(webapp)
    limit = effective_limits(webapp.user).max_web_workers_per_app
    # A plan that shrank since the setting was saved still bounds what runs.
    settings_sent["processes"] = max(1, min(webapp.workers, limit))
    try:
        answer = webclient.web_reload(
            web_agent(webapp.server), user=user_ref(webapp.user), app=settings_sent
        )
        result = ReloadResult(
            ok=answer["ok"],
            message=answer["message"],
            status=answer.get("status"),
            error_log_tail=answer.get("error_log_tail", ""),
            server_log_tail=answer.get("server_log_tail", ""),
        )
    except AgentError as exc:
        result = ReloadResult(ok=False, message=f"The web server refused: {exc.message}")
    except AgentUnavailable:
        result = ReloadResult(ok=False, message="The web server is unreachable right now.")
    webapp.last_reload_at = timezone.now()
    webapp.last_reload_ok = result.ok
    webapp.last_reload_message = result.message
    webapp.save(update_fields=["last_reload_at", "last_reload_ok", "last_reload_message"])
    return result


def webapp_delete(*, webapp: WebApp) -> None:
    """Take the app off its web server and forget it (the user's files stay)."""
    webclient.web_remove(web_agent(webapp.server), user=user_ref(webapp.user), domain=webapp.domain)
    webapp.delete()
