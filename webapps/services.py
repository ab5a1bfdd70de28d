"""Writes about web apps: create, change settings, reload, remove.

Settings are saved first and reach the web server on Reload (as on PythonAnywhere), except
where a change only makes sense applied at once: enabling, disabling, renaming, deleting.
"""

import contextlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.limits import effective_limits
from accounts.models import User
from accounts.selectors import cheapest_plan_allowing
from config.errors import AppError
from servers.models import Server
from servers.selectors import first_active_server
from webapps import agent, dns, https, quickstart
from webapps.agent import AgentError, AgentUnavailable
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
    raise AppError(
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
    unknown = set(changes) - set(SETTING_FIELDS) - {"force_https", "hsts_max_age"}
    if unknown:
        raise TypeError(f"webapp_update: cannot set {sorted(unknown)}")
    if changes.get("force_https") and not webapp.own_address and not _serves_certificate(webapp):
        raise AppError(
            "Force HTTPS needs a certificate for the domain first: get one automatically or "
            "upload your own below.",
            field="force_https",
        )
    for name, value in changes.items():
        setattr(webapp, name, value)
    webapp.changed_at = timezone.now()
    webapp.save(update_fields=[*changes, "changed_at", "updated_at"])
    return webapp


def _serves_certificate(webapp: WebApp) -> bool:
    certificate = getattr(webapp, "certificate", None)
    return certificate is not None and certificate.serving


def webapp_set_password(*, webapp: WebApp, username: str, password: str) -> WebApp:
    """Protect the site with one username and password (applied on Reload)."""
    webapp.auth_username = username
    webapp.auth_password_hash = hash_password(password)
    webapp.changed_at = timezone.now()
    webapp.save(update_fields=["auth_username", "auth_password_hash", "changed_at", "updated_at"])
    return webapp


def webapp_clear_password(*, webapp: WebApp) -> WebApp:
    webapp.auth_username = ""
    webapp.auth_password_hash = ""
    webapp.changed_at = timezone.now()
    webapp.save(update_fields=["auth_username", "auth_password_hash", "changed_at", "updated_at"])
    return webapp


def static_mapping_add(
    *, webapp: WebApp, url: str, directory: str, dotfiles: bool = False
) -> StaticMapping:
    """Serve directory (inside the home, already checked) at url, from the next Reload;
    names starting with a dot only if dotfiles."""
    if webapp.static_mappings.filter(url=url).exists():
        raise AppError(f"{url} is already mapped.")
    mapping = StaticMapping.objects.create(
        webapp=webapp, url=url, directory=directory, dotfiles=dotfiles
    )
    _mark_changed(webapp)
    return mapping


def static_mapping_remove(*, mapping: StaticMapping) -> None:
    mapping.delete()
    _mark_changed(mapping.webapp)


def _mark_changed(webapp: WebApp) -> None:
    # Until Reload the app answers these URLs itself (Flask serves /static/ from its own
    # folder), so a mapping can seem to work before it does: the page says it is pending.
    webapp.changed_at = timezone.now()
    webapp.save(update_fields=["changed_at"])


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
    # A proof is for the name and the time it was found: moving back later checks again.
    webapp.verified_domain = ""
    webapp.save(update_fields=["domain", "verified_domain", "updated_at"])
    # The new address works regardless; an unreachable server keeps the old block until
    # the app is deleted.
    with contextlib.suppress(AgentError, AgentUnavailable):
        agent.remove(webapp, domain=old)
    https.certificate_follow_domain(webapp=webapp)
    return webapp_reload(webapp=webapp)


def webapp_verify_domain(*, webapp: WebApp) -> ReloadResult:
    """Look for the TXT record that proves the user owns the custom domain, then serve it."""
    if webapp.domain_verified:
        return webapp_reload(webapp=webapp)
    name, token = webapp.challenge_name, webapp.domain_token
    try:
        found = dns.txt_records(name)
    except dns.NoSuchName:
        raise AppError(
            f"{name} does not exist in the DNS yet. Add the TXT record, allow a few minutes "
            "for it to spread, then check again."
        ) from None
    except dns.DnsTimeout:
        raise AppError(
            f"The DNS did not answer in time for {name}: try again in a minute."
        ) from None
    except dns.DnsError as exc:
        raise AppError(f"Could not look up {name}: {exc}. Try again later.") from None
    if token not in found:
        seen = ", ".join(f'"{text[:80]}"' for text in found[:3]) or "no TXT record"
        raise AppError(f"{name} has {seen}, not {token}. Check the record's value and try again.")
    webapp.verified_domain = webapp.domain
    webapp.save(update_fields=["verified_domain", "updated_at"])
    https.certificate_issue_when_ready(webapp=webapp)
    return webapp_reload(webapp=webapp)


def webapp_reload(*, webapp: WebApp) -> ReloadResult:
    """Render the configuration, reload nginx if needed, touch the WSGI file, test the site."""
    if not webapp.domain_verified:
        return _withhold_unverified(webapp)
    started = timezone.now()
    settings_sent = https.served_settings(webapp)
    try:
        answer = agent.reload(webapp, app=settings_sent)
        result = ReloadResult(
            ok=answer["ok"],
            message=answer["message"],
            status=answer.get("status"),
            error_log_tail=answer.get("error_log_tail", ""),
            server_log_tail=answer.get("server_log_tail", ""),
        )
        webapp.applied_at = started
    except AgentError as exc:
        result = ReloadResult(ok=False, message=f"The web server refused: {exc.message}")
    except AgentUnavailable:
        result = ReloadResult(ok=False, message="The web server is unreachable right now.")
    webapp.last_reload_at = timezone.now()
    webapp.last_reload_ok = result.ok
    webapp.last_reload_message = result.message
    webapp.save(
        update_fields=["last_reload_at", "last_reload_ok", "last_reload_message", "applied_at"]
    )
    return result


def _withhold_unverified(webapp: WebApp) -> ReloadResult:
    # Not even a placeholder page: nginx answers for the name as for any name it does not know.
    # Removing also takes off a block served before verification was required.
    with contextlib.suppress(AgentError, AgentUnavailable):
        agent.remove(webapp)
    return ReloadResult(
        ok=False,
        message=f"{webapp.domain} is not served until you prove you own it: add the TXT record "
        f"{webapp.challenge_name} shown below, then press Check now.",
    )


def webapp_delete(*, webapp: WebApp) -> None:
    """Take the app off its web server and forget it (the user's files stay)."""
    agent.remove(webapp)
    webapp.delete()
