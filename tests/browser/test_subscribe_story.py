"""A customer subscribes on the fake Stripe's hosted page, sees the new limits on the
dashboard, then a renewal fails: the banner, the fix-payment link, a new card, the banner
gone and the limits kept."""

import datetime

import pytest
from selenium.webdriver.common.by import By

from billing.models import Subscription
from billing.services import billing_profile_save
from tests.billing.conftest import write_geoip_database
from tests.browser.conftest import Site
from tests.browser.helpers import log_in_as, submit, wait_for, wait_for_text
from tests.factories import UserFactory
from tests.fakes.stripe import FakeStripe
from tests.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def stripe_site(transactional_db, django_db_serialized_rollback, tmp_path):
    fake = FakeStripe().start()
    database = tmp_path / "country.mmdb"
    write_geoip_database(database, {"127.0.0.0/8": "DE"})  # the browser is in Germany
    server = LiveServer(
        tmp_path,
        extra_env={
            "WARREN_GEOIP_DATABASE": str(database),
            "WARREN_STRIPE_API_KEY": fake.api_key,
            "WARREN_STRIPE_API_BASE": fake.url,
            "WARREN_STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        },
    )
    # Stripe's webhooks come a moment after its redirect, from its own address.
    fake.webhook_url = server.url + "/billing/webhooks/stripe/"
    fake.webhook_delay = 1.0
    fake.webhooks = True
    try:
        yield Site(server.url, server.log), fake
    finally:
        server.stop()
        fake.stop()


def text(browser) -> str:
    return browser.execute_script("return document.body ? document.body.innerText : '';")


def refresh_until(browser, condition, timeout: float = 20):
    def check(b):
        if condition(text(b)):
            return True
        b.refresh()
        return False

    wait_for(browser, check, timeout)


def test_subscribe_with_stripe_then_a_failed_payment_and_paying_again(stripe_site, browser):
    site, stripe = stripe_site
    alice = UserFactory(username="alice")
    billing_profile_save(
        user=alice, name="Alice Schmidt", address="Hauptstrasse 1", country="DE", vat_number=""
    )
    log_in_as(browser, site, alice)

    # She picks the Hacker plan and is sent to Stripe's page, which asks for 5.95 EUR.
    browser.get(site.url + "/billing/")
    wait_for_text(browser, "Card (Stripe)")
    submit(browser, "Choose Hacker")
    wait_for_text(browser, "5.95 EUR a month")
    assert browser.current_url.startswith(stripe.url + "/pay/")
    stripe.hold = True  # Stripe's webhooks are late this time
    submit(browser, "Pay")

    # Back at Warren: the page waits for Stripe's word, then shows the new limits by itself.
    wait_for_text(browser, "Waiting for confirmation from Stripe")
    stripe.hold = False
    stripe.release()
    wait_for_text(browser, "You are subscribed to Hacker", timeout=20)
    browser.find_element(By.LINK_TEXT, "Go to the dashboard").click()
    wait_for_text(browser, "Your plan: Hacker")
    assert "2,000 CPU-seconds a day" in text(browser)
    subscription = Subscription.objects.get(user=alice)
    assert (subscription.gateway, subscription.source) == ("stripe", "gateway")

    # A month on, her card fails: the dashboard says so.
    customer = stripe.subscriptions[subscription.gateway_id]["customer"]
    stripe.failing_cards.add(customer)
    stripe.advance_to(stripe.period_end(subscription.gateway_id))
    refresh_until(browser, lambda t: "Your payment did not go through" in t)
    assert "Your Hacker limits stay for now" in text(browser)

    # She follows the link, gives a new card on Stripe's page, and is back on the dashboard.
    browser.find_element(By.LINK_TEXT, "Fix your payment method").click()
    wait_for_text(browser, "Update your payment method")
    assert browser.current_url.startswith(stripe.url + "/portal/")
    submit(browser, "Update card")
    wait_for(browser, lambda b: b.current_url.startswith(site.url))
    refresh_until(browser, lambda t: "Your payment did not go through" not in t)
    assert "Your plan: Hacker" in text(browser)
    assert [kind for kind, status in stripe.delivered if status != 200] == []
    assert stripe.charged[subscription.gateway_id][-1][0] > datetime.date.today()
