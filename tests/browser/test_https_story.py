"""Alice gets a certificate for her custom domain from the web app's page (pebble, the real ACME
test server), turns on Force HTTPS, and her site loads over HTTPS in Chromium without warnings."""

import base64
import hashlib
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium.webdriver.common.by import By

from accounts.models import Plan
from tests.agents import point_django_at, restore_django
from tests.browser.helpers import log_in_as, wait_for_text
from tests.factories import UserFactory
from tests.fakes.dns import shared_fake_dns
from webapps import services
from webapps.models import Certificate

pytestmark = [pytest.mark.browser, pytest.mark.root]

DOMAIN = "shop.example.org"


def spki_sha256(pem: str) -> str:
    """What Chromium's --ignore-certificate-errors-spki-list takes: base64 SHA-256 of the SPKI."""
    public_key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def browser_flags(pebble):
    # pebble's intermediate (new at each start) signs every leaf and is in the chain nginx
    # sends, so trusting its key is trusting this pebble, and nothing else.
    intermediate = pebble._get(f"https://localhost:{pebble.management_port}/intermediates/0")
    return (
        f"--host-resolver-rules=MAP {DOMAIN} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={spki_sha256(intermediate.decode())}",
    )


@pytest.fixture
def fake_dns():
    """The fake DNS for the live server too (it checks nothing itself here, pebble resolves)."""
    server = shared_fake_dns()
    old = point_django_at(WARREN_DNS_SERVERS=[server.address])
    yield server
    restore_django(old)
    server.addresses.pop(DOMAIN, None)


def test_a_custom_domain_gets_a_certificate_and_loads_over_https(
    web_front,
    pebble,
    fake_dns,
    browser_flags,
    site,
    browser,
    provisioned,
    settings,
):
    alice = UserFactory(username="alice", plan=Plan.objects.get(slug="web-developer"))
    provisioned(alice)
    webapp, _ = services.webapp_create(
        user=alice, framework="flask", python_version="3.11", domain=DOMAIN
    )
    # Her TXT proof is in (the domain tests cover finding it); the name points at us.
    webapp.verified_domain = DOMAIN
    webapp.save(update_fields=["verified_domain"])
    services.webapp_reload(webapp=webapp)
    fake_dns.addresses[DOMAIN] = "127.0.0.1"

    # On her web app's page she asks for a certificate automatically.
    log_in_as(browser, site, alice)
    browser.get(f"{site.url}/web/{webapp.pk}/")
    wait_for_text(browser, "No certificate yet")
    browser.find_element(By.XPATH, "//button[text()='Get a certificate automatically']").click()
    wait_for_text(browser, "renews automatically around", timeout=60)
    state = browser.find_element(By.CSS_SELECTOR, "#certificate-state dd[data-state]")
    assert state.text == "issued", Certificate.objects.get(webapp=webapp).failure_reason
    assert "Pebble" in browser.find_element(By.ID, "certificate-state").text

    # She turns on Force HTTPS and reloads.
    browser.find_element(By.NAME, "force_https").click()
    wait_for_text(browser, "HTTPS setting saved")
    browser.find_element(By.ID, "reload-button").click()
    wait_for_text(browser, "Reloaded: the test request got HTTP", timeout=40)
    assert Certificate.objects.get(webapp=webapp).webapp.force_https

    # Her plain HTTP address now takes her to HTTPS, which loads without any warning.
    https_url = f"https://{DOMAIN}:{settings.WARREN_WEBAPPS_HTTPS_PORT}/"
    deadline = time.monotonic() + 20
    while browser.current_url != https_url and time.monotonic() < deadline:
        # The Reload answer can come before nginx's workers took the new block.
        browser.get(f"http://{DOMAIN}:{settings.WARREN_WEBAPPS_PORT}/")
    assert browser.current_url == https_url
    # Under load the vassal can still be restarting (nginx answers 502): load again, as she would.
    deadline = time.monotonic() + 30
    while "Hello from Flask!" not in browser.page_source and time.monotonic() < deadline:
        time.sleep(0.5)
        browser.get(https_url)
    wait_for_text(browser, "Hello from Flask!", timeout=5)
    assert browser.execute_script("return window.isSecureContext") is True
