"""Writes about web apps' HTTPS certificates: upload, ask ACME for one, renew, follow a domain.

A certificate reaches the web server at once (web_apply, no reload of the app): an upload is
checked here, then by `nginx -t` on the web server, and saved only once it is served; a
refusal anywhere leaves the site with what it served before. ACME issuance and renewal run in
Celery tasks on the web server's queue (webapps/tasks.py), with a backoff per domain.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.limits import effective_limits
from config.errors import AppError
from webapps import acme, agent
from webapps.agent import AgentError, AgentUnavailable, app_settings, tls_settings
from webapps.certificates import CheckedCertificate, certificate_check
from webapps.models import Certificate, WebApp

logger = logging.getLogger(__name__)

BACKOFF_FIRST = datetime.timedelta(minutes=10)
BACKOFF_MAX = datetime.timedelta(hours=24)
# A beat run claims a certificate for this long, so the next run does not queue it again.
CLAIM = datetime.timedelta(minutes=30)


def served_settings(webapp: WebApp, **tls) -> dict:
    """What the agent is sent for the app: its settings, workers bounded by the plan today."""
    sent = app_settings(webapp)
    limit = effective_limits(webapp.user).max_web_workers_per_app
    # A plan that shrank since the setting was saved still bounds what runs.
    sent["processes"] = max(1, min(webapp.workers, limit))
    if tls:
        sent["tls"] = tls_settings(webapp, **tls)
    return sent


def _needs_own_certificate(webapp: WebApp) -> None:
    if webapp.own_address:
        raise AppError(
            f"{webapp.domain} is served with {settings.WARREN_SITE_NAME}'s own certificate."
        )
    if not webapp.domain_verified:
        raise AppError(f"Prove you own {webapp.domain} first (the TXT record above).")


def _serve(webapp: WebApp, checked: CheckedCertificate) -> None:
    """Put the certificate on the web server now; AppError if it refuses."""
    try:
        agent.apply(webapp, app=served_settings(webapp, certificate=checked))
    except AgentError as exc:
        raise AppError(f"The web server refused the certificate: {exc.message}") from None
    except AgentUnavailable:
        raise AppError("The web server is unreachable right now; try again later.") from None


def certificate_upload(*, webapp: WebApp, certificate: bytes, key: bytes) -> Certificate:
    """Check the uploaded chain and key for the app's domain, serve them, then record them."""
    _needs_own_certificate(webapp)
    checked = certificate_check(certificate=certificate, key=key, domain=webapp.domain)
    _serve(webapp, checked)
    with transaction.atomic():
        row, _ = Certificate.objects.select_for_update().get_or_create(
            webapp=webapp, defaults={"domain": webapp.domain, "source": Certificate.Source.UPLOADED}
        )
        row.source = Certificate.Source.UPLOADED
        row.renew_after = None  # the user's to renew
        _record_issued(row, webapp.domain, checked)
    return row


def certificate_request(*, webapp: WebApp) -> Certificate:
    """Ask for a certificate over ACME: pending until the task on the web server's queue ends."""
    _needs_own_certificate(webapp)
    with transaction.atomic():
        row, created = Certificate.objects.select_for_update().get_or_create(
            webapp=webapp, defaults={"domain": webapp.domain, "source": Certificate.Source.ACME}
        )
        if not created and row.source == Certificate.Source.ACME and row.state == "pending":
            return row  # already on its way
        row.source = Certificate.Source.ACME
        row.state = Certificate.State.PENDING
        row.failure_reason = ""
        row.attempts = 0
        row.next_attempt_at = timezone.now() + CLAIM
        row.save()
        _enqueue_issue(row)
    return row


def certificate_remove(*, webapp: WebApp) -> None:
    """Stop serving the app's own certificate (HTTP only again; Force HTTPS goes off too)."""
    with transaction.atomic():
        row = Certificate.objects.select_for_update().filter(webapp=webapp).first()
        if row is None:
            return
        row.delete()
        webapp.force_https = False
        webapp.save(update_fields=["force_https", "updated_at"])
    webapp.refresh_from_db()  # forgets the deleted row
    try:
        agent.apply(webapp, app=served_settings(webapp))
    except (AgentError, AgentUnavailable):
        logger.warning("certificate of %s removed, web server not told yet", webapp.domain)


def certificate_follow_domain(*, webapp: WebApp) -> None:
    """After a domain change: an ACME certificate is asked for again for the new name once it
    is proven (the old one revoked); an uploaded one, for the old name, is dropped."""
    row = Certificate.objects.filter(webapp=webapp).first()
    if row is None or row.domain == webapp.domain:
        return
    if row.source == Certificate.Source.UPLOADED or webapp.own_address:
        row.delete()
        return
    superseded = row.chain_pem
    row.domain = webapp.domain
    row.state = Certificate.State.PENDING
    row.failure_reason = ""
    row.chain_pem = row.key_pem = row.issuer = ""
    row.names, row.not_after, row.renew_after = [], None, None
    row.attempts = 0
    row.save()
    if superseded:
        transaction.on_commit(lambda: _revoke_quietly(superseded))
    certificate_issue_when_ready(webapp=webapp)


def _revoke_quietly(chain_pem: str) -> None:
    try:
        acme.revoke(chain_pem=chain_pem)
    except acme.AcmeFailure as exc:
        logger.warning("revoking a superseded certificate failed: %s", exc.reason)


def certificate_issue_when_ready(*, webapp: WebApp) -> None:
    """Queue the pending ACME issuance of a proven domain (after its TXT proof, a change)."""
    row = Certificate.objects.filter(webapp=webapp, source="acme", state="pending").first()
    if row is not None and webapp.domain_verified and row.domain == webapp.domain:
        _enqueue_issue(row)


def _enqueue_issue(row: Certificate) -> None:
    from webapps.tasks import certificate_issue_task

    server = row.webapp.server
    options = {"queue": server.agent_queue} if server is not None else {}
    transaction.on_commit(lambda: certificate_issue_task.apply_async((row.pk,), **options))


def certificate_issue(*, certificate_id: int) -> Certificate | None:
    """Get (or renew) the ACME certificate through the web server, serve it, record how it went."""
    row = Certificate.objects.select_related("webapp__user", "webapp__server").get(
        pk=certificate_id
    )
    webapp = row.webapp
    if row.source != Certificate.Source.ACME or row.domain != webapp.domain:
        return None
    if not webapp.domain_verified:
        return _record_failure(row, f"{webapp.domain} is not proven to be yours yet")
    domain = webapp.domain
    try:
        issued = acme.issue(
            domain=domain,
            publish=lambda token, answer: agent.acme_publish(
                webapp, domain=domain, token=token, answer=answer
            ),
            withdraw=lambda token: agent.acme_withdraw(webapp, domain=domain, token=token),
        )
        checked = certificate_check(certificate=issued.chain_pem, key=issued.key_pem, domain=domain)
        _serve(webapp, checked)
    except acme.AcmeFailure as exc:
        return _record_failure(row, exc.reason)
    except (AgentError, AgentUnavailable):
        return _record_failure(row, "the web server could not publish the challenge")
    except AppError as exc:
        return _record_failure(row, exc.message)
    with transaction.atomic():
        row = Certificate.objects.select_for_update().get(pk=row.pk)
        _record_issued(row, domain, checked)
        row.renew_after = checked.not_after - datetime.timedelta(
            days=settings.WARREN_ACME_RENEW_DAYS
        )
        row.save(update_fields=["renew_after"])
    return row


def _record_issued(row: Certificate, domain: str, checked: CheckedCertificate) -> None:
    row.domain = domain
    row.state = Certificate.State.ISSUED
    row.failure_reason = ""
    row.chain_pem, row.key_pem = checked.chain_pem, checked.key_pem
    row.issuer, row.names, row.not_after = checked.issuer, checked.names, checked.not_after
    row.attempts = 0
    row.next_attempt_at = None
    row.failure_notified_at = None
    row.save()


def backoff(attempts: int) -> datetime.timedelta:
    """10 minutes after the first failure, doubling, at most a day."""
    return min(BACKOFF_FIRST * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


def _record_failure(row: Certificate, reason: str) -> Certificate:
    with transaction.atomic():
        row = Certificate.objects.select_for_update().select_related("webapp__user").get(pk=row.pk)
        row.state = Certificate.State.FAILED
        row.failure_reason = reason[:2000]
        row.attempts += 1
        row.next_attempt_at = timezone.now() + backoff(row.attempts)
        fields = ["state", "failure_reason", "attempts", "next_attempt_at", "updated_at"]
        if row.chain_pem and row.failure_notified_at is None:
            # A renewal: the site still serves the old certificate, which will expire.
            row.failure_notified_at = timezone.now()
            fields.append("failure_notified_at")
            transaction.on_commit(lambda: _mail_renewal_failure(row))
        row.save(update_fields=fields)
    return row


def _mail_renewal_failure(row: Certificate) -> None:
    user = row.webapp.user
    if not user.email:
        return
    expiry = f"{row.not_after:%Y-%m-%d}" if row.not_after else "soon"
    send_mail(
        f"[{settings.WARREN_SITE_NAME}] The HTTPS certificate of {row.domain} was not renewed",
        f"Hello {user.username},\n\n"
        f"We could not renew the HTTPS certificate of {row.domain}: {row.failure_reason}.\n\n"
        f"The current certificate keeps working until {expiry}. We will try again "
        "automatically; if the domain no longer points at us, update its DNS records, or "
        "upload a certificate of your own on the web app's page.\n",
        None,
        [user.email],
    )


def certificates_renew_due(*, now: datetime.datetime | None = None) -> int:
    """Beat: queue each ACME certificate due for renewal or for another try after a failure;
    claimed with a conditional update, so overlapping runs queue each one once."""
    now = now or timezone.now()
    due = Certificate.objects.filter(source=Certificate.Source.ACME).exclude(
        next_attempt_at__gt=now
    )
    renewals = due.filter(renew_after__lte=now, state=Certificate.State.ISSUED)
    retries = due.filter(state__in=["failed", "pending"], next_attempt_at__lte=now)
    candidates = [*renewals.values_list("pk", flat=True), *retries.values_list("pk", flat=True)]
    queued = 0
    for pk in candidates:
        claimed = (
            Certificate.objects.filter(pk=pk)
            .exclude(next_attempt_at__gt=now)
            .update(next_attempt_at=now + CLAIM)
        )
        if claimed:
            row = Certificate.objects.select_related("webapp__server").get(pk=pk)
            _enqueue_issue(row)
            queued += 1
    return queued
