"""PayPal's REST Subscriptions API over httpx (its server SDK has no subscription endpoints,
and the old ``paypalrestsdk`` is archived).

PayPal keeps the amount as a net price (the plan's billing cycle) plus a tax percentage (the
plan's ``taxes``); both are revised on the subscription itself with the documented PATCH on
``/plan/billing_cycles/@sequence==1/pricing_scheme/fixed_price`` and ``/plan/taxes/percentage``,
so other subscribers of the plan are not touched. PayPal refuses such changes close to a
billing date (``WARREN_PAYPAL_CHANGE_WINDOW_HOURS``, the seed's 72): those are deferred.
"""

import datetime
import json
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import httpx
from django.conf import settings

from billing.gateways import (
    BadSignature,
    ChangeRefused,
    Charge,
    Checkout,
    GatewayError,
    GatewayUnavailable,
    RateLimited,
    WebhookEvent,
    parse_retry_after,
    with_backoff,
)

PAGE_SIZE = 20  # PayPal's largest page for subscription lists
LIVE = ("APPROVAL_PENDING", "APPROVED", "ACTIVE", "SUSPENDED")
# The issue PayPal names when a pricing change comes too close to a billing date.
TOO_CLOSE_ISSUES = {"SUBSCRIPTION_UPDATE_TOO_CLOSE_TO_BILLING_DATE"}


def to_minor(value: str) -> int:
    return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_value(minor: int) -> str:
    return f"{Decimal(minor) / 100:.2f}"


def charge_of(subscription: dict) -> Charge:
    """A Charge from a subscription read with ``fields=plan`` (net + taxes)."""
    plan = subscription["plan"]
    cycle = next(
        (c for c in plan["billing_cycles"] if c.get("tenure_type") == "REGULAR"),
        plan["billing_cycles"][-1],
    )
    price = cycle["pricing_scheme"]["fixed_price"]
    net = to_minor(price["value"])
    taxes = plan.get("taxes") or {}
    percentage = Decimal(taxes.get("percentage") or "0")
    if taxes.get("inclusive"):
        gross = net  # Warren never sets inclusive taxes; a price that has them is its gross
    else:
        tax = (Decimal(net) * percentage / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        gross = net + int(tax)
    active = subscription["status"] == "ACTIVE"
    next_time = (subscription.get("billing_info") or {}).get("next_billing_time")
    return Charge(
        gateway_id=subscription["id"],
        active=active,
        next_charge_date=datetime.date.fromisoformat(next_time[:10])
        if active and next_time
        else None,
        gross_minor=gross,
        currency=price["currency_code"].upper(),
    )


class PayPalGateway:
    name = "paypal"

    def __init__(self, *, client_id: str, secret: str, api_base: str, timeout: float):
        self.calls = 0
        self._auth = (client_id, secret)
        self._http = httpx.Client(base_url=api_base.rstrip("/"), timeout=timeout)
        self._token: str | None = None
        self._token_expires = 0.0

    @classmethod
    def from_settings(cls) -> "PayPalGateway":
        return cls(
            client_id=settings.WARREN_PAYPAL_CLIENT_ID,
            secret=settings.WARREN_PAYPAL_CLIENT_SECRET,
            api_base=settings.WARREN_PAYPAL_API_BASE,
            timeout=settings.WARREN_GATEWAY_TIMEOUT_SECONDS,
        )

    def close(self) -> None:
        self._http.close()

    # --- transport -------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        answer = self._send(
            "POST",
            "/v1/oauth2/token",
            what="access token",
            auth=self._auth,
            data={"grant_type": "client_credentials"},
            authorised=False,
        )
        self._token = answer["access_token"]
        # Renewed a minute early so a long run never sends an expired token.
        self._token_expires = time.monotonic() + int(answer.get("expires_in", 3600)) - 60
        return self._token

    def _send(self, method: str, path: str, *, what: str, authorised: bool = True, **kwargs):
        extra_headers = kwargs.pop("headers", None) or {}

        def once():
            headers = dict(extra_headers)
            if authorised:
                headers["Authorization"] = f"Bearer {self._access_token()}"
            self.calls += 1
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as error:
                raise GatewayUnavailable(f"PayPal {what}: {error!r}") from None
            if response.status_code == 429:
                raise RateLimited(parse_retry_after(response.headers.get("Retry-After")))
            if response.status_code == 401 and authorised:
                self._token = None  # expired or revoked: the retry fetches a new one
                raise GatewayUnavailable(f"PayPal {what}: token refused")
            if response.status_code >= 500:
                raise GatewayUnavailable(f"PayPal {what}: HTTP {response.status_code}")
            if response.status_code >= 400:
                raise self._refusal(what, response)
            return response.json() if response.content else {}

        return with_backoff(once, what=f"PayPal {what}")

    @staticmethod
    def _refusal(what: str, response: httpx.Response) -> GatewayError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        issues = {d.get("issue") for d in body.get("details") or []}
        message = (
            f"PayPal {what}: {body.get('name', response.status_code)} {body.get('message', '')}"
        )
        if issues & TOO_CLOSE_ISSUES:
            return ChangeRefused(message)
        return GatewayError(message)

    # --- the interface ---------------------------------------------------------------------

    def charges(self) -> Iterator[Charge]:
        page = 1
        while True:
            answer = self._send(
                "GET",
                "/v1/billing/subscriptions",
                what="list subscriptions",
                params={
                    "page_size": PAGE_SIZE,
                    "page": page,
                    "statuses": ",".join(LIVE),
                    "fields": "plan",
                    "total_required": "true",
                },
            )
            for subscription in answer.get("subscriptions", []):
                yield charge_of(subscription)
            if page >= int(answer.get("total_pages") or 0) or not answer.get("subscriptions"):
                return
            page += 1

    def next_charge(self, gateway_id: str) -> Charge:
        answer = self._send(
            "GET",
            f"/v1/billing/subscriptions/{gateway_id}",
            what=f"show {gateway_id}",
            params={"fields": "plan"},
        )
        return charge_of(answer)

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
        patch = [
            {
                "op": "replace",
                "path": "/plan/billing_cycles/@sequence==1/pricing_scheme/fixed_price",
                "value": {"currency_code": currency, "value": to_value(net_minor)},
            },
            {"op": "replace", "path": "/plan/taxes/percentage", "value": f"{vat_rate:.2f}"},
        ]
        self._send(
            "PATCH",
            f"/v1/billing/subscriptions/{gateway_id}",
            what=f"update {gateway_id}",
            json=patch,
            headers={"PayPal-Request-Id": idempotency_key},
        )

    def change_window_hours(self) -> int:
        return settings.WARREN_PAYPAL_CHANGE_WINDOW_HOURS

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
        """A subscription of the catalog plan with this user's net price and VAT rate, waiting
        for their approval on PayPal's ``approve`` link."""
        if not settings.WARREN_PAYPAL_PLAN_ID:
            raise GatewayError("PayPal: no WARREN_PAYPAL_PLAN_ID to subscribe to")
        body = {
            "plan_id": settings.WARREN_PAYPAL_PLAN_ID,
            "custom_id": reference,
            "plan": {
                "billing_cycles": [
                    {
                        "sequence": 1,
                        "total_cycles": 0,
                        "pricing_scheme": {
                            "fixed_price": {"currency_code": currency, "value": to_value(net_minor)}
                        },
                    }
                ],
                "taxes": {"percentage": f"{vat_rate:.2f}", "inclusive": False},
            },
            "application_context": {
                "brand_name": settings.WARREN_SITE_NAME[:127],
                "shipping_preference": "NO_SHIPPING",
                "user_action": "SUBSCRIBE_NOW",
                "return_url": success_url,
                "cancel_url": cancel_url,
            },
        }
        if email:
            body["subscriber"] = {"email_address": email}
        answer = self._send(
            "POST",
            "/v1/billing/subscriptions",
            what="create subscription",
            json=body,
            headers={"PayPal-Request-Id": idempotency_key, "Prefer": "return=minimal"},
        )
        approve = next(
            (link["href"] for link in answer.get("links", []) if link.get("rel") == "approve"), ""
        )
        if not answer.get("id") or not approve:
            raise GatewayError("PayPal create subscription: no approve link in the answer")
        return Checkout(session_id=answer["id"], url=approve)

    def cancel(self, *, gateway_id: str, idempotency_key: str) -> None:
        """PayPal stops charging at once; Warren keeps the paid limits to the period's end."""
        self._send(
            "POST",
            f"/v1/billing/subscriptions/{gateway_id}/cancel",
            what=f"cancel {gateway_id}",
            json={"reason": "Cancelled by the customer"},
            headers={"PayPal-Request-Id": idempotency_key},
        )

    def payment_method_url(self, *, gateway_id: str, return_url: str) -> str:
        """PayPal's own page for a subscriber's automatic payments (no API makes one)."""
        sandbox = "sandbox" in settings.WARREN_PAYPAL_API_BASE
        host = "https://www.sandbox.paypal.com" if sandbox else "https://www.paypal.com"
        return f"{host}/myaccount/autopay/"

    def webhook_parse(self, *, payload: bytes, headers) -> WebhookEvent:
        """Ask PayPal's verify-webhook-signature about the event, then translate it."""
        try:
            event = json.loads(payload)
        except ValueError:
            raise BadSignature("not JSON") from None
        if not settings.WARREN_PAYPAL_WEBHOOK_ID or not isinstance(event, dict):
            raise BadSignature("no PayPal webhook id is configured, or not an event")
        answer = self._send(
            "POST",
            "/v1/notifications/verify-webhook-signature",
            what="verify webhook",
            json={
                "auth_algo": headers.get("PAYPAL-AUTH-ALGO", ""),
                "cert_url": headers.get("PAYPAL-CERT-URL", ""),
                "transmission_id": headers.get("PAYPAL-TRANSMISSION-ID", ""),
                "transmission_sig": headers.get("PAYPAL-TRANSMISSION-SIG", ""),
                "transmission_time": headers.get("PAYPAL-TRANSMISSION-TIME", ""),
                "webhook_id": settings.WARREN_PAYPAL_WEBHOOK_ID,
                "webhook_event": event,
            },
        )
        if answer.get("verification_status") != "SUCCESS":
            raise BadSignature("PayPal did not verify the signature")
        return event_of(event)


KINDS = {
    "PAYMENT.SALE.COMPLETED": "paid",
    "BILLING.SUBSCRIPTION.PAYMENT.FAILED": "failed",
    "BILLING.SUBSCRIPTION.CANCELLED": "cancelled",
    "BILLING.SUBSCRIPTION.ACTIVATED": "activated",
}


def event_of(event: dict) -> WebhookEvent:
    resource = event.get("resource") or {}
    kind = KINDS.get(event.get("event_type"), "other")
    amount = None
    currency = ""
    if kind == "paid":
        subscription = resource.get("billing_agreement_id", "")
        money = resource.get("amount") or {}
        amount, currency = money.get("total"), money.get("currency", "")
    else:
        subscription = resource.get("id", "")
        failed = (resource.get("billing_info") or {}).get("last_failed_payment") or {}
        money = failed.get("amount") or {}
        amount, currency = money.get("value"), money.get("currency_code", "")
    created = event.get("create_time") or "1970-01-01T00:00:00Z"
    return WebhookEvent(
        event_id=str(event.get("id", "")),
        kind=kind,
        type=str(event.get("event_type", "")),
        gateway_subscription_id=str(subscription),
        occurred_at=datetime.datetime.fromisoformat(created.replace("Z", "+00:00")),
        amount_minor=to_minor(amount) if amount is not None else None,
        currency=str(currency).upper(),
        reference=str(resource.get("custom_id") or ""),
    )
