"""Stripe for tests: a stateful local server speaking the parts of the API Warren uses, driven
through the official SDK pointed at it (``WARREN_STRIPE_API_BASE``).

Shaped after Stripe's documented objects (current API: a subscription's billing period lives on
its items), list pagination (``limit``, ``starting_after``, ``has_more``), error bodies
(``{"error": {"type", "message", "code"}}``), ``Idempotency-Key`` (a replay gets the first
answer, another body under the same key a 400), 429 with ``Retry-After``, and a clock:
``advance_to(day)`` charges every subscription whose period ends by then and rolls it on a
month (or marks it ``past_due`` when its card is set to fail).
"""

import calendar
import datetime
import hashlib
import hmac
import itertools
import json
import re
import time
from urllib.parse import parse_qsl

from tests.fakes.gateway_http import FakeHttpServer, Reply

UTC = datetime.UTC


def timestamp(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def add_month(day: datetime.date) -> datetime.date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def form_decode(body: bytes | str) -> dict:
    """Stripe's form encoding (``items[0][price_data][unit_amount]=1210``) into nested dicts."""
    if isinstance(body, bytes):
        body = body.decode()
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


def error(status: int, kind: str, message: str, code: str = "", headers=None) -> Reply:
    body = {"error": {"type": kind, "message": message}}
    if code:
        body["error"]["code"] = code
    return Reply(status, body, headers)


class FakeStripe(FakeHttpServer):
    def __init__(self, *, api_key: str = "sk_test_warren_fake"):
        super().__init__()
        self.api_key = api_key
        self.webhook_secret = "whsec_warren_fake"
        self.subscriptions: dict[str, dict] = {}
        self.order: list[str] = []  # creation order; lists go newest first, as Stripe's do
        self.position: dict[str, int] = {}
        self.idempotent: dict[str, tuple[str, Reply]] = {}
        self.charged: dict[str, list[tuple[datetime.date, int]]] = {}
        self.failing_cards: set[str] = set()
        self.portal_sessions: dict[str, dict] = {}
        self.prorations: dict[str, str] = {}  # subscription -> proration_behavior of its last swap
        self._ids = itertools.count(1)

    def _route_name(self, path: str) -> str:
        return re.sub(r"/sub_\w+", "/{id}", path)

    # --- state set up by tests ---------------------------------------------------------------

    def add_subscription(
        self,
        *,
        gross_minor: int,
        period_end: datetime.date,
        currency: str = "eur",
        status: str = "active",
        metadata: dict | None = None,
    ) -> str:
        with self.lock:
            n = next(self._ids)
            sub_id = f"sub_{n:014d}"
            start = period_end - datetime.timedelta(days=30)
            self.subscriptions[sub_id] = {
                "id": sub_id,
                "object": "subscription",
                "customer": f"cus_{n:014d}",
                "status": status,
                "cancel_at_period_end": False,
                "currency": currency,
                "created": timestamp(start),
                "metadata": metadata or {},
                "items": {
                    "object": "list",
                    "url": f"/v1/subscription_items?subscription={sub_id}",
                    "has_more": False,
                    "data": [
                        {
                            "id": f"si_{n:014d}",
                            "object": "subscription_item",
                            "quantity": 1,
                            "current_period_start": timestamp(start),
                            "current_period_end": timestamp(period_end),
                            "price": self._price(gross_minor, currency, f"prod_{n:014d}"),
                        }
                    ],
                },
            }
            self.position[sub_id] = len(self.order)
            self.order.append(sub_id)
            return sub_id

    def _price(self, amount: int, currency: str, product: str) -> dict:
        return {
            "id": f"price_{next(self._ids):014d}",
            "object": "price",
            "currency": currency,
            "product": product,
            "unit_amount": amount,
            "recurring": {"interval": "month", "interval_count": 1},
            "type": "recurring",
        }

    def gross(self, sub_id: str) -> int:
        return self.subscriptions[sub_id]["items"]["data"][0]["price"]["unit_amount"]

    def period_end(self, sub_id: str) -> datetime.date:
        end = self.subscriptions[sub_id]["items"]["data"][0]["current_period_end"]
        return datetime.datetime.fromtimestamp(end, UTC).date()

    def cancel(self, sub_id: str) -> None:
        with self.lock:
            self.subscriptions[sub_id]["status"] = "canceled"

    def advance_to(self, day: datetime.date) -> None:
        """Charge every live subscription whose period has ended by ``day``."""
        with self.lock:
            for sub_id, sub in self.subscriptions.items():
                item = sub["items"]["data"][0]
                while sub["status"] in ("active", "past_due") and self.period_end(sub_id) <= day:
                    if sub.get("cancel_at_period_end"):
                        sub["status"] = "canceled"
                        break
                    if sub["customer"] in self.failing_cards:
                        sub["status"] = "past_due"
                        break
                    end = self.period_end(sub_id)
                    self.charged.setdefault(sub_id, []).append((end, self.gross(sub_id)))
                    sub["status"] = "active"
                    item["current_period_start"] = timestamp(end)
                    item["current_period_end"] = timestamp(add_month(end))

    def sign(self, payload: bytes, *, at: int | None = None, secret: str | None = None) -> str:
        """A ``Stripe-Signature`` header for ``payload``, as Stripe signs webhooks."""
        at = int(time.time()) if at is None else at
        mac = hmac.new(
            (secret or self.webhook_secret).encode(), f"{at}.".encode() + payload, hashlib.sha256
        )
        return f"t={at},v1={mac.hexdigest()}"

    # --- the API -----------------------------------------------------------------------------

    def handle(self, method, path, query, headers, body) -> Reply:
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return error(401, "invalid_request_error", "Invalid API Key provided.")
        params = form_decode(body) if method == "POST" else query
        key = headers.get("Idempotency-Key")
        fingerprint = f"{method} {path} {json.dumps(params, sort_keys=True)}"
        if method == "POST" and key and key in self.idempotent:
            seen, reply = self.idempotent[key]
            if seen != fingerprint:
                return error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
            return Reply(reply.status, reply.body, {"Idempotent-Replayed": "true"})
        reply = self._route(method, path, params)
        if method == "POST" and key and reply.status < 500:
            self.idempotent[key] = (fingerprint, reply)
        return reply

    def _route(self, method, path, params) -> Reply:
        if path == "/v1/subscriptions" and method == "GET":
            return self._list(params)
        if path == "/v1/billing_portal/sessions" and method == "POST":
            customer = params.get("customer", "")
            if not any(s["customer"] == customer for s in self.subscriptions.values()):
                return error(400, "invalid_request_error", f"No such customer: '{customer}'")
            session = f"bps_{next(self._ids):014d}"
            self.portal_sessions[session] = {
                "customer": customer,
                "return_url": params["return_url"],
            }
            return Reply(
                200,
                {
                    "id": session,
                    "object": "billing_portal.session",
                    "customer": customer,
                    "return_url": params["return_url"],
                    "url": f"{self.url}/portal/{session}",
                },
            )
        match = re.fullmatch(r"/v1/subscriptions/(sub_\w+)", path)
        if match:
            sub = self.subscriptions.get(match.group(1))
            if sub is None:
                return error(
                    404,
                    "invalid_request_error",
                    f"No such subscription: '{match.group(1)}'",
                    "resource_missing",
                )
            if method == "GET":
                return Reply(200, sub)
            if method == "POST":
                return self._update(sub, params)
        return error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _list(self, params) -> Reply:
        try:
            limit = int(params.get("limit", 10))
        except ValueError:
            return error(
                400, "invalid_request_error", "Invalid integer: limit", "parameter_invalid_integer"
            )
        if not 1 <= limit <= 100:
            return error(400, "invalid_request_error", "limit must be between 1 and 100")
        status = params.get("status")
        start = len(self.order) - 1
        after = params.get("starting_after")
        if after:
            if after not in self.position:
                return error(400, "invalid_request_error", f"No such subscription: '{after}'")
            start = self.position[after] - 1
        data = []
        i = start
        while i >= 0 and len(data) < limit + 1:
            sub = self.subscriptions[self.order[i]]
            # Without a status Stripe lists all but cancelled ones; "all" includes those.
            if (
                status == "all"
                or (status is None and sub["status"] != "canceled")
                or (sub["status"] == status)
            ):
                data.append(sub)
            i -= 1
        return Reply(
            200,
            {
                "object": "list",
                "url": "/v1/subscriptions",
                "has_more": len(data) > limit,
                "data": data[:limit],
            },
        )

    def _update(self, sub: dict, params: dict) -> Reply:
        if sub["status"] == "canceled":
            return error(
                400,
                "invalid_request_error",
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        items = params.get("items", {})
        for entry in items.values():
            item = next((i for i in sub["items"]["data"] if i["id"] == entry.get("id")), None)
            if item is None:
                return error(
                    400, "invalid_request_error", f"Invalid subscription_item: {entry.get('id')}"
                )
            data = entry.get("price_data")
            if data is None:
                return error(400, "invalid_request_error", "Missing price or price_data.")
            try:
                amount = int(data["unit_amount"])
            except (KeyError, ValueError):
                return error(400, "invalid_request_error", "Invalid integer: unit_amount")
            if data.get("recurring", {}).get("interval") != "month":
                return error(400, "invalid_request_error", "price_data[recurring] is required")
            if "proration_behavior" not in params:
                # Warren must always say "none"; Stripe's default would prorate the change.
                return error(400, "invalid_request_error", "fake: proration_behavior not given")
            item["price"] = self._price(amount, data["currency"], data["product"])
            self.prorations[sub["id"]] = params["proration_behavior"]
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        sub["metadata"].update(params.get("metadata", {}))
        return Reply(200, sub)
