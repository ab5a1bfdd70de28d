import datetime

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Plan
from billing.evidence import judge
from billing.geoip import country_of
from billing.models import Evidence, Subscription
from billing.services import billing_profile_save
from tests.billing.conftest import IP_IN, UNKNOWN_IP

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 1, 15)


@pytest.mark.parametrize(
    ("billing", "ip", "accepted"),
    [
        ("DE", "DE", True),  # EU/EU, the same country
        ("DE", "FR", False),  # EU/EU, different countries
        ("DE", "US", False),  # EU billing, non-EU IP
        ("US", "DE", False),  # non-EU billing, EU IP (the seed's American in... Germany)
        ("US", "CH", True),  # neither in the EU
        ("GB", "US", True),  # the UK is outside the EU since 2021
        ("DE", "", False),  # the IP's country is unknown: it cannot agree with an EU address
        ("US", "", True),
    ],
)
def test_the_seeds_evidence_matrix(billing, ip, accepted):
    assert judge(billing_country=billing, ip_country=ip, day=TODAY).accepted is accepted


def test_a_british_address_on_a_german_ip_was_refused_before_brexit():
    assert not judge(billing_country="GB", ip_country="DE", day=datetime.date(2020, 6, 1)).accepted
    assert not judge(billing_country="GB", ip_country="DE", day=TODAY).accepted  # DE still EU
    assert judge(billing_country="GB", ip_country="US", day=TODAY).accepted


def test_geoip_reads_the_configured_database(geoip):
    assert country_of(IP_IN["DE"]) == "DE"
    assert country_of(IP_IN["US"]) == "US"
    assert country_of(UNKNOWN_IP) == ""
    assert country_of("not an address") == ""


def test_without_a_database_every_country_is_unknown(settings):
    settings.WARREN_GEOIP_DATABASE = None
    assert country_of(IP_IN["DE"]) == ""


def _subscribe(client, remote_addr, **headers):
    hacker = Plan.objects.get(slug="hacker")
    return client.post(
        reverse("billing:change"),
        {"plan": "hacker", "quoted_net_minor": hacker.monthly_price_minor},
        REMOTE_ADDR=remote_addr,
        **headers,
    )


@pytest.fixture
def german_alice(user):
    billing_profile_save(user=user, name="Alice", address="", country="DE", vat_number="")
    return user


def test_agreeing_evidence_subscribes_and_is_kept_with_the_subscription(
    alice_client, german_alice, geoip
):
    response = _subscribe(alice_client, IP_IN["DE"])
    assert response.status_code == 302
    subscription = Subscription.objects.get(user=german_alice)
    assert subscription.evidence.billing_country == "DE"
    assert subscription.evidence.geoip_country == "DE"
    assert subscription.evidence.ip_address == IP_IN["DE"]


def test_mismatched_evidence_gets_the_apologetic_page_and_staff_an_email(
    alice_client, german_alice, staff_user, geoip
):
    response = _subscribe(alice_client, IP_IN["FR"])
    assert response.status_code == 403
    page = response.content.decode()
    assert "Sorry: we cannot set up your subscription" in page
    assert "Nothing was charged" in page
    # Nothing sold, the plan unchanged...
    assert not Subscription.objects.filter(user=german_alice).exists()
    german_alice.refresh_from_db()
    assert german_alice.plan.slug == "beginner"
    # ...but the attempt recorded, and staff told with both pieces of evidence.
    attempt = Evidence.objects.get(user=german_alice)
    assert not attempt.accepted and attempt.geoip_country == "FR"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [staff_user.email]
    assert "Billing address country: DE" in mail.outbox[0].body
    assert "GeoIP country: FR" in mail.outbox[0].body


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_evidence(
    alice_client, german_alice, geoip, settings
):
    import ipaddress

    settings.WARREN_TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    response = _subscribe(alice_client, "127.0.0.1", HTTP_X_FORWARDED_FOR=IP_IN["DE"])
    assert response.status_code == 302
    assert Evidence.objects.get(user=german_alice).ip_address == IP_IN["DE"]


def test_a_spoofed_forwarded_header_from_an_untrusted_peer_is_not_believed(
    alice_client, german_alice, geoip, settings
):
    """An American on a US address who claims a German IP in X-Forwarded-For would have
    bought at German VAT on evidence they forged."""
    settings.WARREN_TRUSTED_PROXIES = []
    response = _subscribe(alice_client, IP_IN["US"], HTTP_X_FORWARDED_FOR=IP_IN["DE"])
    assert response.status_code == 403
    assert Evidence.objects.get(user=german_alice).ip_address == IP_IN["US"]


def test_without_a_billing_address_a_paid_plan_is_refused(alice_client, user, geoip):
    response = _subscribe(alice_client, IP_IN["DE"])
    assert response.status_code == 400
    assert "Enter your billing address" in response.content.decode()
    assert not Subscription.objects.filter(user=user).exists()


def test_the_admin_says_no_geoip_database_is_shipped(staff_client, settings):
    settings.WARREN_GEOIP_DATABASE = None
    response = staff_client.get(reverse("admin:billing_evidence_changelist"), follow=True)
    assert "No GeoIP database is configured" in response.content.decode()
