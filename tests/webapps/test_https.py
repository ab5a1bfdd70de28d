"""The Web tab's HTTPS certificate section through the real nginx: uploads served per SNI name,
bad uploads refused with the site unchanged, Force HTTPS and HSTS, owner and outsider."""

import datetime
import ssl

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Plan
from execution_agent.testing.web import http_get
from tests.certs import TestCA, https_get, self_signed
from tests.fakes.dns import use_fake_dns
from tests.webapps.helpers import create_app
from webapps.models import Certificate, WebApp

pytestmark = [pytest.mark.root, pytest.mark.django_db]

DOMAIN = "shop.example.org"


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture
def https_port(settings):
    return settings.WARREN_WEBAPPS_HTTPS_PORT


@pytest.fixture
def shop(web, user, alice_client, provisioned, settings):
    """Alice's app on a custom domain she has proven is hers."""
    user.plan = Plan.objects.get(slug="web-developer")
    user.save()
    provisioned(user)
    webapp = create_app(alice_client, framework="flask", domain=DOMAIN)
    use_fake_dns(settings).records[webapp.challenge_name] = [webapp.domain_token]
    alice_client.post(reverse("webapps:verify_domain", args=[webapp.pk]))
    webapp.refresh_from_db()
    assert webapp.last_reload_ok, webapp.last_reload_message
    return webapp


def upload(client, webapp, certificate, key):
    """Paste the PEM text; bytes go as a file (what a browser sends for a chosen file)."""
    data = {"key": key}
    if isinstance(certificate, bytes):
        data["certificate_file"] = SimpleUploadedFile("chain.der", certificate)
    else:
        data["certificate"] = certificate
    return client.post(reverse("webapps:certificate_upload", args=[webapp.pk]), data)


def test_an_uploaded_certificate_is_served_for_the_domain_at_once(
    shop, alice_client, ca, https_port
):
    leaf = ca.leaf(DOMAIN)
    response = upload(alice_client, shop, ca.chain_pem(leaf), leaf.key_pem)
    assert response.status_code == 302
    answer = https_get(https_port, DOMAIN, cadata=ca.root_pem)
    assert answer.status == 200 and answer.body == b"Hello from Flask!"
    assert answer.certificate.serial_number == leaf.cert.serial_number
    certificate = Certificate.objects.get(webapp=shop)
    assert (certificate.source, certificate.state) == ("uploaded", "issued")
    page = alice_client.get(reverse("webapps:detail", args=[shop.pk])).content.decode()
    assert "Warren Test CA Intermediate" in page
    assert f"{leaf.cert.not_valid_after_utc:%Y-%m-%d}" in page


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("mismatched_key", "does not match"),
        ("expired", "expired on"),
        ("self_signed", "self-signed"),
        ("other_name", "not shop.example.org"),
        ("binary", "binary"),
        ("huge", "KiB"),
    ],
)
def test_a_bad_upload_is_refused_and_the_previous_certificate_stays(
    shop, alice_client, ca, https_port, bad, message
):
    good = ca.leaf(DOMAIN)
    assert upload(alice_client, shop, ca.chain_pem(good), good.key_pem).status_code == 302
    chain, key = ca.chain_pem(good), good.key_pem
    if bad == "mismatched_key":
        key = ca.leaf(DOMAIN).key_pem
    elif bad == "expired":
        old = ca.leaf(DOMAIN, not_before_days=-200, days=90)
        chain, key = ca.chain_pem(old), old.key_pem
    elif bad == "self_signed":
        mine = self_signed(DOMAIN)
        chain, key = mine.cert_pem, mine.key_pem
    elif bad == "other_name":
        other = ca.leaf("other.example.net")
        chain, key = ca.chain_pem(other), other.key_pem
    elif bad == "binary":
        chain = good.cert.public_bytes(serialization.Encoding.DER)
    else:
        chain = chain.encode() + b"x" * 100_000
    response = upload(alice_client, shop, chain, key)
    assert response.status_code == 400
    assert message in response.content.decode()
    answer = https_get(https_port, DOMAIN, cadata=ca.root_pem)
    assert answer.certificate.serial_number == good.cert.serial_number
    assert Certificate.objects.get(webapp=shop).chain_pem.startswith(good.cert_pem)


def test_force_https_needs_a_certificate_then_redirects_and_sends_hsts(
    shop, alice_client, ca, web_port, https_port
):
    detail = reverse("webapps:detail", args=[shop.pk])
    response = alice_client.post(
        reverse("webapps:force_https", args=[shop.pk]), {"force_https": "on"}, follow=True
    )
    assert "needs a certificate" in response.content.decode()
    assert not WebApp.objects.get(pk=shop.pk).force_https
    leaf = ca.leaf(DOMAIN)
    upload(alice_client, shop, ca.chain_pem(leaf), leaf.key_pem)
    alice_client.post(reverse("webapps:force_https", args=[shop.pk]), {"force_https": "on"})
    alice_client.post(reverse("webapps:hsts", args=[shop.pk]), {"hsts_max_age": "600"})
    alice_client.post(reverse("webapps:reload", args=[shop.pk]))
    status, headers, _ = http_get(web_port, DOMAIN, "/x?y=1")
    assert status == 301
    assert headers["location"] == f"https://{DOMAIN}:{https_port}/x?y=1"
    answer = https_get(https_port, DOMAIN, cadata=ca.root_pem)
    assert answer.headers["strict-transport-security"] == "max-age=600"
    assert f"https://{DOMAIN}:{https_port}/" in alice_client.get(detail).content.decode()
    bad = alice_client.post(reverse("webapps:hsts", args=[shop.pk]), {"hsts_max_age": "-1"})
    assert bad.status_code == 400


def test_removing_the_certificate_goes_back_to_http_only(shop, alice_client, ca, https_port):
    leaf = ca.leaf(DOMAIN)
    upload(alice_client, shop, ca.chain_pem(leaf), leaf.key_pem)
    alice_client.post(reverse("webapps:certificate_remove", args=[shop.pk]))
    assert not Certificate.objects.filter(webapp=shop).exists()
    with pytest.raises(ssl.SSLError):
        https_get(https_port, DOMAIN, cadata=ca.root_pem)


def test_an_unproven_domain_gets_no_certificate(web, user, alice_client, provisioned, ca):
    user.plan = Plan.objects.get(slug="web-developer")
    user.save()
    provisioned(user)
    webapp = create_app(alice_client, framework="flask", domain="unproven.example.org")
    leaf = ca.leaf("unproven.example.org")
    response = upload(alice_client, webapp, ca.chain_pem(leaf), leaf.key_pem)
    assert response.status_code == 400 and "Prove you own" in response.content.decode()
    response = alice_client.post(
        reverse("webapps:certificate_request", args=[webapp.pk]), follow=True
    )
    assert "Prove you own" in response.content.decode()
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    "name", ["certificate_upload", "certificate_request", "certificate_remove", "hsts"]
)
def test_an_outsider_gets_404(shop, outsider_client, name):
    response = outsider_client.post(reverse(f"webapps:{name}", args=[shop.pk]), {})
    assert response.status_code == 404
    assert not Certificate.objects.exists()


def test_a_renewal_failure_is_recorded_with_backoff_and_emailed_once(
    shop, ca, mailoutbox, django_capture_on_commit_callbacks
):
    from webapps.https import _record_failure, backoff

    leaf = ca.leaf(DOMAIN)
    row = Certificate.objects.create(
        webapp=shop,
        domain=DOMAIN,
        source="acme",
        state="issued",
        chain_pem=ca.chain_pem(leaf),
        key_pem=leaf.key_pem,
        not_after=leaf.cert.not_valid_after_utc,
    )
    assert backoff(1) == datetime.timedelta(minutes=10)
    assert backoff(20) == datetime.timedelta(hours=24)
    with django_capture_on_commit_callbacks(execute=True):
        row = _record_failure(row, "the domain does not point at us (no A record)")
        row = _record_failure(row, "the domain does not point at us (no A record)")
    assert row.state_label == "failed: the domain does not point at us (no A record)"
    assert row.attempts == 2 and row.chain_pem  # the old certificate is still served
    assert len(mailoutbox) == 1
    assert "does not point at us" in mailoutbox[0].body
