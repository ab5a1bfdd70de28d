"""Certificates from a real ACME server (Debian's pebble) through the real nginx: issue, renew,
replace on a domain change, and failures that leave everyone else's site serving."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Plan
from tests.certs import https_get, names_of
from tests.fakes.dns import use_fake_dns
from tests.webapps.helpers import create_app
from webapps.https import certificates_renew_due
from webapps.models import Certificate, WebApp

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def dns(settings):
    return use_fake_dns(settings)


@pytest.fixture
def custom_app(web, pebble, dns, provisioned):
    """make(client, user, domain): an app on a custom domain, proven, pointing at us."""

    def make(client, user, domain: str, *, address: str | None = "127.0.0.1") -> WebApp:
        user.plan = Plan.objects.get(slug="web-developer")
        user.save()
        provisioned(user)
        webapp = create_app(client, framework="flask", domain=domain)
        dns.records[webapp.challenge_name] = [webapp.domain_token]
        if address:
            dns.addresses[domain] = address
        client.post(reverse("webapps:verify_domain", args=[webapp.pk]))
        webapp.refresh_from_db()
        assert webapp.last_reload_ok, webapp.last_reload_message
        return webapp

    return make


def ask(client, webapp, capture) -> Certificate:
    """Get a certificate automatically; the task (eager in tests) runs on commit."""
    with capture(execute=True):
        response = client.post(reverse("webapps:certificate_request", args=[webapp.pk]))
    assert response.status_code == 302
    return Certificate.objects.get(webapp=webapp)


def test_a_custom_domain_gets_a_certificate_from_pebble(
    custom_app, user, alice_client, pebble, settings, django_capture_on_commit_callbacks
):
    webapp = custom_app(alice_client, user, "shop.example.org")
    row = ask(alice_client, webapp, django_capture_on_commit_callbacks)
    assert row.state == "issued", row.failure_reason
    answer = https_get(
        settings.WARREN_WEBAPPS_HTTPS_PORT, "shop.example.org", cadata=pebble.root_pem()
    )
    assert answer.status == 200 and answer.body == b"Hello from Flask!"
    assert names_of(answer.certificate) == ["shop.example.org"]
    assert row.not_after == answer.certificate.not_valid_after_utc
    assert row.renew_after == row.not_after - datetime.timedelta(days=30)
    assert "Pebble" in row.issuer
    page = alice_client.get(reverse("webapps:detail", args=[webapp.pk])).content.decode()
    assert f"renews automatically around {row.renew_after:%Y-%m-%d}" in page


def test_a_due_certificate_is_renewed_by_the_beat_job(
    custom_app, user, alice_client, pebble, settings, django_capture_on_commit_callbacks
):
    webapp = custom_app(alice_client, user, "renew.example.org")
    first = ask(alice_client, webapp, django_capture_on_commit_callbacks)
    assert first.state == "issued", first.failure_reason
    assert certificates_renew_due() == 0  # not due yet
    Certificate.objects.filter(pk=first.pk).update(renew_after=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert certificates_renew_due() == 1
    renewed = Certificate.objects.get(pk=first.pk)
    assert renewed.state == "issued" and renewed.chain_pem != first.chain_pem
    answer = https_get(
        settings.WARREN_WEBAPPS_HTTPS_PORT, "renew.example.org", cadata=pebble.root_pem()
    )
    assert answer.certificate.serial_number != _serial(first)
    assert answer.certificate.serial_number == _serial(renewed)


def _serial(row: Certificate) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificates(row.chain_pem.encode())[0].serial_number


def test_a_domain_change_gets_a_certificate_for_the_new_name(
    custom_app, dns, user, alice_client, pebble, settings, django_capture_on_commit_callbacks
):
    webapp = custom_app(alice_client, user, "old.example.org")
    first = ask(alice_client, webapp, django_capture_on_commit_callbacks)
    assert first.state == "issued", first.failure_reason
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            reverse("webapps:setting", args=[webapp.pk, "domain"]), {"value": "new.example.org"}
        )
    row = Certificate.objects.get(webapp=webapp)
    assert (row.domain, row.state, row.chain_pem) == ("new.example.org", "pending", "")
    # The old name's certificate is revoked as superseded (RFC 5280 reason 4).
    status = pebble.certificate_status(_serial(first))
    assert (status["Status"], status["Reason"]) == ("Revoked", 4)
    webapp.refresh_from_db()
    dns.records[webapp.challenge_name] = [webapp.domain_token]
    dns.addresses["new.example.org"] = "127.0.0.1"
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("webapps:verify_domain", args=[webapp.pk]))
    row.refresh_from_db()
    assert row.state == "issued", row.failure_reason
    answer = https_get(
        settings.WARREN_WEBAPPS_HTTPS_PORT, "new.example.org", cadata=pebble.root_pem()
    )
    assert names_of(answer.certificate) == ["new.example.org"]


def test_a_domain_that_does_not_point_at_us_fails_and_other_sites_keep_serving(
    custom_app,
    user,
    outsider,
    alice_client,
    outsider_client,
    pebble,
    settings,
    django_capture_on_commit_callbacks,
):
    bobs = custom_app(outsider_client, outsider, "bob.example.net")
    assert ask(outsider_client, bobs, django_capture_on_commit_callbacks).state == "issued"
    # Alice's name points at an address where nothing answers for us.
    webapp = custom_app(alice_client, user, "elsewhere.example.org", address="127.0.0.2")
    row = ask(alice_client, webapp, django_capture_on_commit_callbacks)
    assert row.state == "failed"
    assert "does not point at us" in row.failure_reason
    assert row.attempts == 1 and row.next_attempt_at > timezone.now()
    page = alice_client.get(reverse("webapps:detail", args=[webapp.pk])).content.decode()
    assert "failed: the domain does not point at us" in page
    answer = https_get(
        settings.WARREN_WEBAPPS_HTTPS_PORT, "bob.example.net", cadata=pebble.root_pem()
    )
    assert answer.status == 200


def test_a_challenge_nginx_does_not_answer_fails_with_the_reason(
    custom_app, user, alice_client, pebble, django_capture_on_commit_callbacks
):
    webapp = custom_app(alice_client, user, "missing.example.org")
    # The app is switched off: nginx has no block for the name, so no challenge answer.
    alice_client.post(reverse("webapps:enabled", args=[webapp.pk]), {})
    row = ask(alice_client, webapp, django_capture_on_commit_callbacks)
    assert row.state == "failed"
    assert "404" in row.failure_reason or "not found" in row.failure_reason
