"""The fake gateways started per test, and the settings pointing Warren's adapters at them."""

import pytest

from tests.fakes.paypal import FakePayPal
from tests.fakes.stripe import FakeStripe


@pytest.fixture
def fake_stripe(settings):
    fake = FakeStripe().start()
    settings.WARREN_STRIPE_API_KEY = fake.api_key
    settings.WARREN_STRIPE_API_BASE = fake.url
    settings.WARREN_STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.WARREN_GATEWAY_TIMEOUT_SECONDS = 1
    settings.WARREN_GATEWAY_RETRY_AFTER_MAX_SECONDS = 1
    yield fake
    fake.stop()


@pytest.fixture
def fake_paypal(settings):
    fake = FakePayPal().start()
    settings.WARREN_PAYPAL_CLIENT_ID = fake.client_id
    settings.WARREN_PAYPAL_CLIENT_SECRET = fake.secret
    settings.WARREN_PAYPAL_API_BASE = fake.url
    settings.WARREN_PAYPAL_WEBHOOK_ID = fake.webhook_id
    settings.WARREN_PAYPAL_PLAN_ID = fake.plan_id
    settings.WARREN_PAYPAL_CHANGE_WINDOW_HOURS = fake.window_hours
    settings.WARREN_GATEWAY_TIMEOUT_SECONDS = 1
    settings.WARREN_GATEWAY_RETRY_AFTER_MAX_SECONDS = 1
    yield fake
    fake.stop()
