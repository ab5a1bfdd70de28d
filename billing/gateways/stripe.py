"""Stripe through its official SDK: a subscription's one item carries the gross monthly amount
(Warren computes the VAT; Stripe Tax is not used), and a new amount is a price swap on that item
with ``proration_behavior="none"``, so the period already paid for is not re-charged."""

import datetime
import uuid
from collections.abc import Iterator
from decimal import Decimal

import stripe
from django.conf import settings

from billing.gateways import (
    BadSignature,
    Charge,
    Checkout,
    GatewayError,
    GatewayUnavailable,
    RateLimited,
    WebhookEvent,
    parse_retry_after,
    with_backoff,
)

PAGE_SIZE = 100  # Stripe's largest page


def _day(timestamp: int | None) -> datetime.date | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).date()


def charge_of(subscription) -> Charge:
    """A Charge from a Stripe subscription object (current API: periods live on the items)."""
    if hasattr(subscription, "to_dict"):
        subscription = subscription.to_dict()  # the SDK's objects are not dicts any more
    [item] = subscription["items"]["data"][:1]
    price = item["price"]
    active = subscription["status"] in ("active", "trialing", "past_due") and not subscription.get(
        "cancel_at_period_end"
    )
    return Charge(
        gateway_id=subscription["id"],
        active=active,
        next_charge_date=_day(item.get("current_period_end")) if active else None,
        gross_minor=int(price["unit_amount"]) * int(item.get("quantity") or 1),
        currency=price["currency"].upper(),
    )


class StripeGateway:
    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str, timeout: float):
        self.calls = 0
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            # Our own retries (Retry-After honoured); the SDK's would hide the 429s from them.
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    @classmethod
    def from_settings(cls) -> "StripeGateway":
        return cls(
            api_key=settings.WARREN_STRIPE_API_KEY,
            api_base=settings.WARREN_STRIPE_API_BASE,
            timeout=settings.WARREN_GATEWAY_TIMEOUT_SECONDS,
        )

    def _call(self, what: str, fn):
        def once():
            self.calls += 1
            try:
                return fn()
            except stripe.RateLimitError as error:
                wait = parse_retry_after((error.headers or {}).get("retry-after"))
                raise RateLimited(wait) from None
            except (stripe.APIConnectionError, stripe.APIError) as error:
                raise GatewayUnavailable(f"Stripe {what}: {error.user_message or error}") from None
            except stripe.StripeError as error:
                raise GatewayError(f"Stripe {what}: {error.user_message or error}") from None

        return with_backoff(once, what=f"Stripe {what}")

    def charges(self) -> Iterator[Charge]:
        after = None
        while True:
            params = {"limit": PAGE_SIZE, "status": "all"}
            if after:
                params["starting_after"] = after
            page = self._call(
                "list subscriptions", lambda p=params: self._client.v1.subscriptions.list(params=p)
            )
            for subscription in page.data:
                if subscription["status"] in ("canceled", "incomplete_expired"):
                    continue
                yield charge_of(subscription)
            if not page.has_more or not page.data:
                return
            after = page.data[-1]["id"]

    def next_charge(self, gateway_id: str) -> Charge:
        subscription = self._call(
            f"retrieve {gateway_id}", lambda: self._client.v1.subscriptions.retrieve(gateway_id)
        )
        return charge_of(subscription)

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
        subscription = self._call(
            f"retrieve {gateway_id}", lambda: self._client.v1.subscriptions.retrieve(gateway_id)
        )
        item = subscription["items"]["data"][0]
        params = {
            "items": [
                {
                    "id": item["id"],
                    "price_data": {
                        "currency": currency.lower(),
                        "product": item["price"]["product"],
                        "unit_amount": gross_minor,
                        "recurring": {"interval": "month"},
                    },
                }
            ],
            "proration_behavior": "none",
            "metadata": {"warren_net_minor": str(net_minor), "warren_vat_rate": str(vat_rate)},
        }
        self._call(
            f"update {gateway_id}",
            lambda: self._client.v1.subscriptions.update(
                gateway_id, params=params, options={"idempotency_key": idempotency_key}
            ),
        )

    def change_window_hours(self) -> int:
        return 0

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
        """A Checkout Session in subscription mode for the gross amount Warren computed."""
        metadata = {
            "warren_reference": reference,
            "warren_net_minor": str(net_minor),
            "warren_vat_rate": str(vat_rate),
        }
        params = {
            "mode": "subscription",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": gross_minor,
                        "recurring": {"interval": "month"},
                        "product_data": {"name": description},
                    },
                }
            ],
            "client_reference_id": reference,
            "metadata": metadata,
            # Also on the subscription, so the nightly reconciliation's reads carry them.
            "subscription_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if email:
            params["customer_email"] = email
        session = self._call(
            "checkout session",
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return Checkout(session_id=session["id"], url=session["url"])

    def cancel(self, *, gateway_id: str, idempotency_key: str) -> None:
        """Cancel at the period's end: Stripe charges nothing more, the paid month runs out."""
        self._call(
            f"cancel {gateway_id}",
            lambda: self._client.v1.subscriptions.update(
                gateway_id,
                params={"cancel_at_period_end": True},
                options={"idempotency_key": idempotency_key},
            ),
        )

    def payment_method_url(self, *, gateway_id: str, return_url: str) -> str:
        """A Billing Portal session where the customer replaces their card."""
        subscription = self._call(
            f"retrieve {gateway_id}", lambda: self._client.v1.subscriptions.retrieve(gateway_id)
        )
        session = self._call(
            "portal session",
            lambda: self._client.v1.billing_portal.sessions.create(
                params={"customer": subscription["customer"], "return_url": return_url},
                options={"idempotency_key": f"warren-portal-{uuid.uuid4()}"},
            ),
        )
        return session["url"]


KINDS = {
    "invoice.paid": "paid",
    "invoice.payment_failed": "failed",
    "customer.subscription.deleted": "cancelled",
    "checkout.session.completed": "activated",
}


def webhook_parse(*, payload: bytes, signature: str, secret: str) -> WebhookEvent:
    """Verify ``Stripe-Signature`` (HMAC, five minutes' tolerance) and translate the event."""
    if not secret:
        raise BadSignature("no Stripe webhook secret is configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret).to_dict()
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise BadSignature(str(error)) from None
    obj = event.get("data", {}).get("object", {})
    kind = KINDS.get(event.get("type"), "other")
    if obj.get("object") == "invoice":
        # Current API: the subscription is under parent.subscription_details; older, top level.
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        subscription = parent.get("subscription") or obj.get("subscription") or ""
        amount = obj.get("amount_paid") if kind == "paid" else obj.get("amount_due")
    elif obj.get("object") == "checkout.session":
        subscription, amount = obj.get("subscription") or "", obj.get("amount_total")
        session = obj.get("id") or ""
    else:
        subscription, amount = obj.get("id", ""), None
    if obj.get("object") != "checkout.session":
        session = ""
    return WebhookEvent(
        event_id=event["id"],
        kind=kind,
        type=event.get("type", ""),
        gateway_subscription_id=subscription,
        occurred_at=datetime.datetime.fromtimestamp(event.get("created", 0), datetime.UTC),
        amount_minor=int(amount) if amount is not None else None,
        currency=(obj.get("currency") or "").upper(),
        reference=obj.get("client_reference_id") or "",
        session_id=session,
    )
