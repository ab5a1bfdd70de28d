"""The two adapters against the fake gateways, through the real SDK / HTTP client."""

import datetime
import os
import time
from decimal import Decimal

import pytest

from billing.gateways import ChangeRefused, GatewayError, GatewayUnavailable, gateway_for
from tests.fakes.gateway_http import Reply

D = datetime.date


def test_stripe_lists_every_subscription_in_pages_of_100(fake_stripe):
    ids = [
        fake_stripe.add_subscription(gross_minor=1210, period_end=D(2030, 5, 2)) for _ in range(250)
    ]
    cancelled = fake_stripe.add_subscription(gross_minor=500, period_end=D(2030, 5, 2))
    fake_stripe.cancel(cancelled)
    gateway = gateway_for("stripe")
    charges = list(gateway.charges())
    assert sorted(c.gateway_id for c in charges) == sorted(ids)
    assert gateway.calls == 3 == fake_stripe.calls["GET /v1/subscriptions"]
    charge = charges[0]
    assert (charge.active, charge.next_charge_date, charge.gross_minor, charge.currency) == (
        True,
        D(2030, 5, 2),
        1210,
        "EUR",
    )


def test_stripe_amount_is_a_price_swap_without_proration_and_idempotent(fake_stripe):
    sub = fake_stripe.add_subscription(gross_minor=1190, period_end=D(2030, 5, 2))
    gateway = gateway_for("stripe")
    change = {
        "gateway_id": sub,
        "net_minor": 1000,
        "vat_rate": Decimal("21.00"),
        "gross_minor": 1210,
        "currency": "EUR",
        "idempotency_key": "reconcile-test-1",
    }
    gateway.amount_set(**change)
    first_price = fake_stripe.subscriptions[sub]["items"]["data"][0]["price"]["id"]
    assert fake_stripe.gross(sub) == 1210
    assert fake_stripe.prorations[sub] == "none"
    # A retry after a lost answer repeats the key: Stripe answers the first result again.
    gateway.amount_set(**change)
    assert fake_stripe.subscriptions[sub]["items"]["data"][0]["price"]["id"] == first_price
    assert gateway.next_charge(sub).gross_minor == 1210
    # The same key for another change is refused, not silently applied.
    with pytest.raises(GatewayError, match="same parameters"):
        gateway.amount_set(**{**change, "gross_minor": 1300})


def test_stripe_refusals_and_outages_are_told_apart(fake_stripe, settings):
    gateway = gateway_for("stripe")
    with pytest.raises(GatewayError, match="No such subscription") as refused:
        gateway.next_charge("sub_missing")
    assert not isinstance(refused.value, GatewayUnavailable)
    fake_stripe.failures.append(Reply(500, {"error": {"type": "api_error", "message": "boom"}}))
    with pytest.raises(GatewayUnavailable):
        list(gateway.charges())
    settings.WARREN_STRIPE_API_KEY = "sk_test_wrong"
    with pytest.raises(GatewayError, match="Invalid API Key"):
        list(gateway_for("stripe").charges())


def test_a_timeout_is_an_outage(fake_stripe, fake_paypal):
    fake_stripe.hang_seconds = fake_paypal.hang_seconds = 2
    for fake, name in ((fake_stripe, "stripe"), (fake_paypal, "paypal")):
        gateway = gateway_for(name)
        if name == "paypal":
            list(gateway.charges())  # take a token first, so the hang hits the list itself
        fake.failures.append("hang")
        with pytest.raises(GatewayUnavailable):
            list(gateway.charges())


@pytest.mark.parametrize("name", ["stripe", "paypal"])
def test_429_is_retried_after_retry_after(name, fake_stripe, fake_paypal):
    fake = fake_stripe if name == "stripe" else fake_paypal
    body = (
        {"error": {"type": "rate_limit_error", "message": "Too many requests"}}
        if name == "stripe"
        else {"name": "RATE_LIMIT_REACHED", "message": "Too many requests."}
    )
    gateway = gateway_for(name)
    if name == "paypal":
        fake.add_subscription(net_minor=1000, tax_percentage="21", next_billing=D(2030, 5, 2))
        list(gateway.charges())
    else:
        fake.add_subscription(gross_minor=1210, period_end=D(2030, 5, 2))
    before = gateway.calls
    fake.failures += [Reply(429, body, {"Retry-After": "1"})] * 2
    started = time.monotonic()
    assert len(list(gateway.charges())) == 1
    assert time.monotonic() - started >= 2  # waited as asked, twice
    assert gateway.calls - before == 3


def test_429_outlasting_the_retries_is_an_outage(fake_stripe, settings):
    settings.WARREN_GATEWAY_RATE_LIMIT_RETRIES = 1
    settings.WARREN_GATEWAY_RETRY_AFTER_MAX_SECONDS = 0
    body = {"error": {"type": "rate_limit_error", "message": "Too many requests"}}
    fake_stripe.failures += [Reply(429, body, {"Retry-After": "30"})] * 2
    with pytest.raises(GatewayUnavailable, match="rate limited"):
        list(gateway_for("stripe").charges())


def test_paypal_lists_in_pages_of_20_with_net_plus_taxes(fake_paypal):
    ids = [
        fake_paypal.add_subscription(
            net_minor=1000, tax_percentage="19", next_billing=D(2030, 5, 2)
        )
        for _ in range(45)
    ]
    gone = fake_paypal.add_subscription(
        net_minor=1000, tax_percentage="19", next_billing=D(2030, 5, 2)
    )
    fake_paypal.cancel(gone)
    gateway = gateway_for("paypal")
    charges = list(gateway.charges())
    assert [c.gateway_id for c in charges] == ids
    assert fake_paypal.calls["GET /v1/billing/subscriptions"] == 3
    assert fake_paypal.calls["POST /v1/oauth2/token"] == 1  # the token is reused
    assert (charges[0].gross_minor, charges[0].next_charge_date, charges[0].currency) == (
        1190,
        D(2030, 5, 2),
        "EUR",
    )


def test_paypal_revises_net_and_tax_but_refuses_inside_its_window(fake_paypal):
    fake_paypal.set_clock(D(2030, 4, 1))
    far = fake_paypal.add_subscription(
        net_minor=1000, tax_percentage="18", next_billing=D(2030, 5, 2)
    )
    near = fake_paypal.add_subscription(
        net_minor=1000, tax_percentage="18", next_billing=D(2030, 4, 3)
    )
    gateway = gateway_for("paypal")
    change = {
        "net_minor": 1000,
        "vat_rate": Decimal("20.00"),
        "gross_minor": 1200,
        "currency": "EUR",
    }
    gateway.amount_set(gateway_id=far, idempotency_key="k1", **change)
    assert fake_paypal.gross(far) == 1200
    assert gateway.next_charge(far).gross_minor == 1200
    with pytest.raises(ChangeRefused, match="UNPROCESSABLE_ENTITY"):
        gateway.amount_set(gateway_id=near, idempotency_key="k2", **change)
    assert fake_paypal.gross(near) == 1180
    with pytest.raises(GatewayError, match="RESOURCE_NOT_FOUND"):
        gateway.next_charge("I-MISSING")


def test_paypal_refuses_bad_credentials_without_a_500_leaking(fake_paypal, settings):
    settings.WARREN_PAYPAL_CLIENT_SECRET = "wrong"
    with pytest.raises(GatewayError, match="401"):
        list(gateway_for("paypal").charges())


# --- contract mode: the same adapters against Stripe's test mode ---------------------------

STRIPE_KEY = os.environ.get("WARREN_CONTRACT_STRIPE_API_KEY", "")
PAYPAL_ID = os.environ.get("WARREN_CONTRACT_PAYPAL_CLIENT_ID", "")
PAYPAL_SECRET = os.environ.get("WARREN_CONTRACT_PAYPAL_CLIENT_SECRET", "")


@pytest.mark.skipif(
    not STRIPE_KEY.startswith("sk_test_"),
    reason="contract mode: set WARREN_CONTRACT_STRIPE_API_KEY to a Stripe test-mode key",
)
def test_contract_stripe_test_mode(settings):
    import stripe

    settings.WARREN_STRIPE_API_KEY = STRIPE_KEY
    settings.WARREN_STRIPE_API_BASE = "https://api.stripe.com"
    client = stripe.StripeClient(STRIPE_KEY)
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": "pm_card_visa"}}
    )
    product = client.v1.products.create(params={"name": "Warren contract test"})
    created = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "product": product.id,
                        "unit_amount": 1190,
                        "recurring": {"interval": "month"},
                    }
                }
            ],
        }
    )
    try:
        gateway = gateway_for("stripe")
        assert gateway.next_charge(created.id).gross_minor == 1190
        gateway.amount_set(
            gateway_id=created.id,
            net_minor=1000,
            vat_rate=Decimal("21.00"),
            gross_minor=1210,
            currency="EUR",
            idempotency_key=f"warren-contract-{created.id}",
        )
        assert gateway.next_charge(created.id).gross_minor == 1210
        assert created.id in {c.gateway_id for c in gateway.charges()}
    finally:
        client.v1.subscriptions.cancel(created.id)


@pytest.mark.skipif(
    not (PAYPAL_ID and PAYPAL_SECRET),
    reason="contract mode: set WARREN_CONTRACT_PAYPAL_CLIENT_ID and _SECRET (sandbox app)",
)
def test_contract_paypal_sandbox_lists(settings):
    # A sandbox subscription needs a buyer's approval in a browser, so the contract run checks
    # what needs none: the token and the subscription list's shape.
    settings.WARREN_PAYPAL_CLIENT_ID = PAYPAL_ID
    settings.WARREN_PAYPAL_CLIENT_SECRET = PAYPAL_SECRET
    settings.WARREN_PAYPAL_API_BASE = "https://api-m.sandbox.paypal.com"
    for charge in gateway_for("paypal").charges():
        assert charge.currency.isupper()
