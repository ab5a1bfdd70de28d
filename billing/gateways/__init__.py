"""Payment gateways behind one small interface (the seed's dependency injection, grown).

The seed passes ``get_next_charge_date_and_gross_amount`` and ``update_vat_amount`` into
``reconcile_subscription`` so one algorithm serves Stripe and PayPal; here they are methods of
a ``Gateway`` (``next_charge`` and ``amount_set``), plus ``charges``, which pages through the
gateway's whole subscription list so a quiet night costs one read per page, not per subscriber.

Adapters: ``billing/gateways/stripe.py`` (the official SDK), ``billing/gateways/paypal.py``
(REST over httpx). Money is in minor units; dates are UTC calendar days.
"""

import datetime
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Charge:
    """What a gateway will charge a subscription next."""

    gateway_id: str
    active: bool  # False: cancelled (or cancelling at period end): nothing more will be charged
    next_charge_date: datetime.date | None
    gross_minor: int
    currency: str  # upper case, as Warren keeps it


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook, in Warren's words (each adapter translates its gateway's)."""

    event_id: str
    kind: str  # "paid", "failed", "cancelled", "activated", or "other"
    type: str  # the gateway's own name for it
    gateway_subscription_id: str
    occurred_at: datetime.datetime
    amount_minor: int | None = None
    currency: str = ""
    reference: str = ""  # what Warren asked the gateway to carry (checkout: the attempt id)
    session_id: str = ""  # the checkout it completes (Stripe's Checkout Session id)


@dataclass(frozen=True)
class Checkout:
    """Where the user approves a subscription at the gateway, and the gateway's id for it."""

    session_id: str  # Stripe: the Checkout Session; PayPal: the subscription itself
    url: str


class BadSignature(Exception):
    """A webhook whose signature does not verify: forged, or signed with another secret."""


class GatewayError(Exception):
    """The gateway refused or failed; the subscription is retried on the next run."""


class GatewayUnavailable(GatewayError):
    """5xx, timeouts, connection errors, rate limits outlasting our patience."""


class ChangeRefused(GatewayError):
    """The gateway will not change this amount now (PayPal, close to a billing date)."""


class Gateway(Protocol):
    name: str
    calls: int  # requests made, for the run's record and the benchmark

    def charges(self) -> Iterator[Charge]:
        """Every live subscription, page by page."""

    def next_charge(self, gateway_id: str) -> Charge:
        """The seed's get_next_charge_date_and_gross_amount, for one subscription."""

    def amount_set(
        self,
        *,
        gateway_id: str,
        net_minor: int,
        vat_rate: Decimal,
        gross_minor: int,
        currency: str,
        idempotency_key: str,
    ) -> None:
        """The seed's update_vat_amount: charge ``gross_minor`` from the next period on."""

    def change_window_hours(self) -> int:
        """How long before a charge the gateway refuses amount changes (0: never)."""

    def checkout_start(
        self,
        *,
        reference: str,
        email: str,
        description: str,
        net_minor: int,
        vat_rate: Decimal,
        gross_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> Checkout:
        """A monthly subscription of ``gross_minor`` waiting for the user's approval."""

    def cancel(self, *, gateway_id: str, idempotency_key: str) -> None:
        """Charge nothing more after the period already paid for."""


def with_backoff(call: Callable, *, what: str):
    """Run ``call``, retrying on rate limits after the gateway's Retry-After (or backoff)."""
    attempts = settings.WARREN_GATEWAY_RATE_LIMIT_RETRIES
    for attempt in range(attempts + 1):
        try:
            return call()
        except RateLimited as error:
            if attempt == attempts:
                raise GatewayUnavailable(f"{what}: still rate limited") from error
            wait = error.retry_after
            if wait is None:
                wait = min(30.0, 0.5 * 2**attempt)
            # A gateway asking for longer than our cap is honoured up to the cap, then retried.
            wait = min(wait, settings.WARREN_GATEWAY_RETRY_AFTER_MAX_SECONDS)
            logger.info("%s rate limited, retrying in %.1fs", what, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


class RateLimited(Exception):
    def __init__(self, retry_after: float | None):
        super().__init__(f"rate limited (Retry-After {retry_after})")
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date is treated as unknown)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def gateway_for(name: str) -> Gateway:
    """The configured adapter for ``name`` ("stripe" or "paypal")."""
    if name == "stripe":
        from billing.gateways.stripe import StripeGateway

        return StripeGateway.from_settings()
    if name == "paypal":
        from billing.gateways.paypal import PayPalGateway

        return PayPalGateway.from_settings()
    raise ValueError(f"unknown gateway {name!r}")


def configured_gateways() -> list[str]:
    """The gateways whose credentials are in the environment."""
    names = []
    if settings.WARREN_STRIPE_API_KEY:
        names.append("stripe")
    if settings.WARREN_PAYPAL_CLIENT_ID and settings.WARREN_PAYPAL_CLIENT_SECRET:
        names.append("paypal")
    return names


def checkout_gateways() -> list[str]:
    """The gateways a new subscriber can pay through (PayPal also needs its catalog plan)."""
    return [
        name for name in configured_gateways() if name != "paypal" or settings.WARREN_PAYPAL_PLAN_ID
    ]
