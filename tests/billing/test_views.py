import pytest
from django.urls import reverse

from accounts.models import CustomLimits
from billing.models import BillingProfile, Subscription
from billing.services import billing_profile_save
from tests.billing.conftest import IP_IN
from webapps.models import WebApp

pytestmark = pytest.mark.django_db

BUILDER = {
    "cpu_seconds_per_day": "5000",
    "max_web_apps": "2",
    "max_web_workers_per_app": "2",
    "disk_gib": "4",
    "max_scheduled_tasks": "3",
    "postgres_allowed": "on",
}


def test_the_account_tab_links_to_plans_address_and_invoices(alice_client):
    page = alice_client.get(reverse("account")).content.decode()
    assert "Upgrade / change plan" in page
    assert reverse("billing:address") in page and reverse("billing:invoices") in page


def test_the_plans_page_shows_public_plans_side_by_side_and_the_builder(alice_client):
    page = alice_client.get(reverse("billing:plans")).content.decode()
    assert "Choose Hacker" in page and "Choose Web Developer" in page
    assert "Customise your plan" in page
    assert "plus vat where applicable" in page.lower()


def test_the_price_moves_with_the_sliders(alice_client):
    small = alice_client.get(reverse("billing:price"), BUILDER).content.decode()
    big = alice_client.get(reverse("billing:price"), {**BUILDER, "disk_gib": "40"}).content.decode()
    assert 'name="quoted_net_minor"' in small
    assert small != big
    assert "Plus VAT where applicable" in small  # no billing address yet


def test_with_an_address_the_price_shows_vat_at_todays_rate_and_gross(alice_client, user):
    billing_profile_save(user=user, name="Alice", address="", country="HU", vat_number="")
    page = alice_client.get(reverse("billing:price"), BUILDER).content.decode()
    assert "VAT at 27.00% (HU, today's rate): EUR 5.02" in page
    assert 'id="price-gross"' in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"disk_gib": "-1"}, "Disk (GiB): at least 1."),
        ({"max_web_apps": "100000"}, "Web apps: at most 20."),
        ({"cpu_seconds_per_day": "lots"}, "CPU-seconds per day: enter a whole number."),
    ],
)
def test_absurd_slider_values_get_a_clear_message(alice_client, changes, message):
    page = alice_client.get(reverse("billing:price"), {**BUILDER, **changes}).content.decode()
    assert message in page
    response = alice_client.post(
        reverse("billing:change"), {**BUILDER, **changes, "quoted_net_minor": "100"}
    )
    assert response.status_code == 400
    assert message in response.content.decode()


def _quoted(client) -> str:
    page = client.get(reverse("billing:price"), BUILDER).content.decode()
    return page.split('name="quoted_net_minor" value="')[1].split('"')[0]


def test_a_custom_plan_is_bought_at_the_price_shown(alice_client, user, geoip):
    billing_profile_save(user=user, name="Alice", address="", country="DE", vat_number="")
    data = {**BUILDER, "quoted_net_minor": _quoted(alice_client)}
    response = alice_client.post(reverse("billing:change"), data, REMOTE_ADDR=IP_IN["DE"])
    assert response.status_code == 302
    assert CustomLimits.objects.get(user=user).max_web_apps == 2


def test_a_tampered_price_is_refused_and_nothing_charged(alice_client, user, geoip):
    billing_profile_save(user=user, name="Alice", address="", country="DE", vat_number="")
    for price in ("1", "-5", "", "abc"):
        data = {**BUILDER, "quoted_net_minor": price}
        response = alice_client.post(reverse("billing:change"), data, REMOTE_ADDR=IP_IN["DE"])
        assert response.status_code == 400
        assert "nothing was changed" in response.content.decode()
    assert not Subscription.objects.filter(user=user).exists()
    assert not CustomLimits.objects.filter(user=user).exists()


def test_an_unknown_plan_is_refused(alice_client, user):
    response = alice_client.post(reverse("billing:change"), {"plan": "gold", "quoted_net_minor": 0})
    assert response.status_code == 400
    assert "not on offer" in response.content.decode()


def test_a_downgrade_over_limits_asks_which_web_apps_stay_on(alice_client, user):
    for n in range(2):
        WebApp.objects.create(
            user=user,
            domain=f"a{n}.example.com",
            framework="manual",
            python_version="3.11",
            working_dir="/home/alice",
        )
    data = {"plan": "beginner", "quoted_net_minor": "0"}
    response = alice_client.post(reverse("billing:change"), data)
    page = response.content.decode()
    assert response.status_code == 409
    assert "You have 2 web apps; the new plan allows 1." in page
    assert "Which web apps stay on?" in page
    keep = WebApp.objects.get(domain="a1.example.com")
    response = alice_client.post(
        reverse("billing:change"), {**data, "confirmed": "on", "keep": [keep.pk]}
    )
    assert response.status_code == 302
    assert list(WebApp.objects.filter(user=user, enabled=True)) == [keep]


def test_the_billing_address_form_saves(alice_client, user):
    response = alice_client.post(
        reverse("billing:address"),
        {"name": "Alice", "address": "1 Rue", "country": "FR", "vat_number": ""},
    )
    assert response.status_code == 302
    assert BillingProfile.objects.get(user=user).country == "FR"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"country": "ZZ"}, "Choose the country of your billing address from the list."),
        ({"country": ""}, "Choose the country of your billing address."),
        ({"vat_number": "FR00garbage"}, "does not look like a FR VAT number"),
        ({"vat_number": "DE136695976"}, "another country&#x27;s VAT number"),
    ],
)
def test_bad_addresses_get_a_clear_message_and_nothing_stored(alice_client, user, data, message):
    form = {"name": "Alice", "address": "", "country": "FR", "vat_number": "", **data}
    response = alice_client.post(reverse("billing:address"), form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not BillingProfile.objects.filter(user=user).exists()
