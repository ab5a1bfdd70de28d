import pytest
from django.urls import reverse

from accounts.models import GIB
from billing.models import UnitPrices
from billing.pricing import (
    CustomChoice,
    cheapest_builder_price,
    current_unit_prices,
    custom_monthly_net_minor,
    format_money,
)

pytestmark = pytest.mark.django_db


def choice(**overrides) -> CustomChoice:
    fields = {
        "cpu_seconds_per_day": 4000,
        "max_web_apps": 2,
        "max_web_workers_per_app": 3,
        "disk_gib": 5,
        "max_scheduled_tasks": 10,
        "custom_domains_allowed": True,
        "postgres_allowed": False,
    }
    return CustomChoice(**{**fields, **overrides})


def test_a_custom_plan_costs_the_sum_of_its_units():
    prices = UnitPrices(
        base_minor=100,
        per_1000_cpu_seconds_minor=60,
        per_web_app_minor=200,
        per_web_worker_minor=100,
        per_gib_minor=50,
        per_scheduled_task_minor=20,
        custom_domains_minor=300,
        postgres_minor=700,
    )
    # base 100 + 4*60 + 2*200 + 2 apps*2 extra workers*100 + 5*50 + 10*20 + domains 300
    assert custom_monthly_net_minor(choice(), prices) == 100 + 240 + 400 + 400 + 250 + 200 + 300
    # A started thousand CPU-seconds is a thousand; PostgreSQL is its add-on price.
    assert custom_monthly_net_minor(choice(cpu_seconds_per_day=4001), prices) == 1950
    assert custom_monthly_net_minor(choice(postgres_allowed=True), prices) == 1890 + 700


def test_the_limits_bought_are_what_was_chosen():
    limits = choice().limits()
    assert limits["disk_bytes"] == 5 * GIB
    assert limits["max_web_apps"] == 2
    assert limits["custom_domains_allowed"] is True


def test_the_seeded_price_list_is_never_negative():
    assert current_unit_prices().pk is not None
    assert cheapest_builder_price(current_unit_prices()) >= 0


def test_a_discount_is_allowed_while_every_builder_plan_still_costs_something():
    prices = UnitPrices(base_minor=-50, per_gib_minor=50)
    assert cheapest_builder_price(prices) >= 0


def test_money_is_shown_with_its_currency():
    assert format_money(123456, "EUR") == "EUR 1,234.56"
    assert format_money(-5, "EUR") == "-EUR 0.05"


def _admin_form(prices: UnitPrices, **changes) -> dict:
    fields = [f.name for f in UnitPrices._meta.fields if f.editable and f.name != "id"]
    return {**{name: getattr(prices, name) for name in fields}, **changes}


def test_staff_edit_a_unit_price(staff_client):
    prices = current_unit_prices()
    url = reverse("admin:billing_unitprices_change", args=[prices.pk])
    response = staff_client.post(url, _admin_form(prices, per_gib_minor=75))
    assert response.status_code == 302
    prices.refresh_from_db()
    assert prices.per_gib_minor == 75


@pytest.mark.parametrize(
    ("field", "value"),
    [("base_minor", -5000), ("per_web_app_minor", -1000), ("postgres_minor", -10_000)],
)
def test_admin_refuses_prices_that_make_a_plan_negative(staff_client, field, value):
    prices = current_unit_prices()
    before = getattr(prices, field)
    url = reverse("admin:billing_unitprices_change", args=[prices.pk])
    response = staff_client.post(url, _admin_form(prices, **{field: value}))
    assert response.status_code == 200
    assert "cannot cost less than nothing" in response.content.decode()
    prices.refresh_from_db()
    assert getattr(prices, field) == before
