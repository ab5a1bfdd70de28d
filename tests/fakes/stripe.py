"""Stripe for tests: a stateful local server speaking the parts of the API Warren uses, driven
through the official SDK pointed at it (``WARREN_STRIPE_API_BASE``).

Shaped after Stripe's documented objects (current API: a subscription's billing period lives on
its items), list pagination (``limit``, ``starting_after``, ``has_more``), error bodies
(``{"error": {"type", "message", "code"}}``), ``Idempotency-Key`` (a replay gets the first
answer, another body under the same key a 400), 429 with ``Retry-After``, and a clock:
``advance_to(day)`` charges every subscription whose period ends by then and rolls it on a
month (or marks it ``past_due`` when its card is set to fail).

Subscribing: ``POST /v1/checkout/sessions`` (subscription mode, ``price_data``) answers a
session whose ``url`` is a small hosted page here; paying there creates the subscription,
sends the signed ``checkout.session.completed`` and ``invoice.paid`` webhooks and redirects
to the success URL. The Billing Portal session's page takes a new card and retries what is
past due. Webhooks go to ``webhook_url`` (after ``webhook_delay`` seconds, in a thread, as
Stripe's arrive after the redirect) or, without one, wait in ``pending`` for a test to send.
"""

import calendar
import datetime
import hashlib
import hmac
import html
import itertools
import json
import re
import threading
import time
from urllib.parse import parse_qsl

import httpx

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
        self.checkout_sessions: dict[str, dict] = {}
        self.declined_card = "4000000000000002"  # Stripe's test card "generic decline"
        self.webhooks = False  # whether advance_to sends invoice webhooks
        self.webhook_url: str | None = None
        self.webhook_delay = 0.0
        self.hold = False  # keep webhooks in ``pending`` even with a webhook_url (release())
        self.pending: list[tuple[bytes, str]] = []  # (payload, Stripe-Signature) not yet sent
        self.delivered: list[tuple[str, int]] = []  # (event type, Warren's HTTP status)
        self.now: int | None = None  # the fake's clock (epoch seconds); None: real time
        self._ids = itertools.count(1)

    def _route_name(self, path: str) -> str:
        return re.sub(r"/(sub|cs|bps)_\w+", "/{id}", path)

    def _now(self) -> int:
        return int(time.time()) if self.now is None else self.now

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
        events = []
        with self.lock:
            self.now = max(self._now(), timestamp(day) + 3600)
            for sub_id, sub in self.subscriptions.items():
                while sub["status"] in ("active", "past_due") and self.period_end(sub_id) <= day:
                    end = self.period_end(sub_id)
                    if sub.get("cancel_at_period_end"):
                        sub["status"] = "canceled"
                        events.append(self._event("customer.subscription.deleted", sub, end))
                        break
                    if sub["customer"] in self.failing_cards:
                        if sub["status"] != "past_due":
                            invoice = self._invoice(sub, paid=False)
                            events.append(self._event("invoice.payment_failed", invoice, end))
                        sub["status"] = "past_due"
                        break
                    event = self._charge(sub, timestamp(end), event=self.webhooks)
                    if event is not None:
                        events.append(event)
        if self.webhooks:
            self._send(events)

    def _charge(self, sub: dict, at: int, *, event: bool = True) -> dict | None:
        """Take the period's payment and roll the period on; the invoice.paid event (not built
        when no one listens: the benchmark's 50,000 renewals need none)."""
        item = sub["items"]["data"][0]
        end = self.period_end(sub["id"])
        self.charged.setdefault(sub["id"], []).append((end, self.gross(sub["id"])))
        sub["status"] = "active"
        item["current_period_start"] = timestamp(end)
        item["current_period_end"] = timestamp(add_month(end))
        if not event:
            return None
        return self._event("invoice.paid", self._invoice(sub, paid=True), at)

    def _invoice(self, sub: dict, *, paid: bool) -> dict:
        amount = self.gross(sub["id"])
        return {
            "id": f"in_{next(self._ids):014d}",
            "object": "invoice",
            "customer": sub["customer"],
            "currency": sub["items"]["data"][0]["price"]["currency"],
            "amount_due": amount,
            "amount_paid": amount if paid else 0,
            "status": "paid" if paid else "open",
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub["id"], "metadata": sub["metadata"]},
            },
        }

    def _event(self, kind: str, obj: dict, at: datetime.date | int | None = None) -> dict:
        if isinstance(at, datetime.date):
            at = timestamp(at) + 3600
        return {
            "id": f"evt_{next(self._ids):024d}",
            "object": "event",
            "type": kind,
            "created": self._now() if at is None else at,
            "data": {"object": json.loads(json.dumps(obj))},
        }

    def _send(self, events: list[dict]) -> None:
        """Sign and deliver (or keep for the test to deliver) the events, in order."""
        signed = []
        for event in events:
            payload = json.dumps(event).encode()
            signed.append((payload, self.sign(payload)))
        if not self.webhook_url or self.hold:
            self.pending.extend(signed)
            return
        self._post(signed)

    def release(self) -> None:
        """Deliver what ``hold`` kept back to ``webhook_url``, as Stripe would have."""
        signed, self.pending = self.pending, []
        self._post(signed)

    def _post(self, signed: list[tuple[bytes, str]]) -> None:
        def deliver():
            time.sleep(self.webhook_delay)
            for payload, signature in signed:
                answer = httpx.post(
                    self.webhook_url,
                    content=payload,
                    headers={"Content-Type": "application/json", "Stripe-Signature": signature},
                    timeout=30,
                )
                self.delivered.append((json.loads(payload)["type"], answer.status_code))

        if self.webhook_delay:
            threading.Thread(target=deliver, daemon=True).start()
        else:
            deliver()

    def sign(self, payload: bytes, *, at: int | None = None, secret: str | None = None) -> str:
        """A ``Stripe-Signature`` header for ``payload``, as Stripe signs webhooks."""
        at = int(time.time()) if at is None else at
        mac = hmac.new(
            (secret or self.webhook_secret).encode(), f"{at}.".encode() + payload, hashlib.sha256
        )
        return f"t={at},v1={mac.hexdigest()}"

    # --- the API -----------------------------------------------------------------------------

    def handle(self, method, path, query, headers, body) -> Reply:
        if path.startswith(("/pay/", "/portal/")):
            return self._page(method, path, form_decode(body) if method == "POST" else {})
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
        if path == "/v1/checkout/sessions" and method == "POST":
            return self._checkout_create(params)
        match = re.fullmatch(r"/v1/checkout/sessions/(cs_\w+)", path)
        if match and method == "GET":
            session = self.checkout_sessions.get(match.group(1))
            if session is None:
                return error(404, "invalid_request_error", "No such checkout.session")
            return Reply(200, session)
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

    # --- Checkout and the hosted pages ---------------------------------------------------------

    def _checkout_create(self, params: dict) -> Reply:
        if params.get("mode") != "subscription":
            return error(400, "invalid_request_error", "fake: only subscription mode is spoken")
        for name in ("success_url", "cancel_url"):
            if not params.get(name, "").startswith(("http://", "https://")):
                return error(400, "invalid_request_error", f"Not a valid URL: {name}")
        lines = list((params.get("line_items") or {}).values())
        if len(lines) != 1 or "price_data" not in lines[0]:
            return error(400, "invalid_request_error", "fake: one line item with price_data")
        data = lines[0]["price_data"]
        try:
            amount = int(data["unit_amount"]) * int(lines[0].get("quantity", 1))
        except (KeyError, ValueError):
            return error(400, "invalid_request_error", "Invalid integer: unit_amount")
        if data.get("recurring", {}).get("interval") != "month" or amount <= 0:
            return error(400, "invalid_request_error", "price_data[recurring] is required")
        session_id = f"cs_test_{next(self._ids):024d}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": data["currency"],
            "client_reference_id": params.get("client_reference_id"),
            "customer": None,
            "customer_email": params.get("customer_email"),
            "subscription": None,
            "metadata": params.get("metadata", {}),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "url": f"{self.url}/pay/{session_id}",
        }
        self.checkout_sessions[session_id] = session
        self._session_extra = getattr(self, "_session_extra", {})
        self._session_extra[session_id] = {
            "product": (data.get("product_data") or {}).get("name", ""),
            "subscription_metadata": (params.get("subscription_data") or {}).get("metadata", {}),
        }
        return Reply(200, session)

    def pay(self, session_id: str, *, card: str = "4242424242424242") -> Reply:
        """What the hosted page's Pay button does (tests call it without a browser too)."""
        with self.lock:
            session = self.checkout_sessions[session_id]
            if session["status"] != "open":
                return Reply(200, html=_page("This checkout is no longer open."))
            if card.replace(" ", "") == self.declined_card:
                return Reply(402, html=_pay_form(session, "Your card was declined."))
            extra = self._session_extra[session_id]
            today = datetime.datetime.fromtimestamp(self._now(), UTC).date()
            sub_id = self.add_subscription(
                gross_minor=session["amount_total"],
                period_end=add_month(today),
                currency=session["currency"],
                metadata=dict(extra["subscription_metadata"]),
            )
            sub = self.subscriptions[sub_id]
            sub["items"]["data"][0]["current_period_start"] = timestamp(today)
            self.charged.setdefault(sub_id, []).append((today, session["amount_total"]))
            session.update(
                status="complete",
                payment_status="paid",
                subscription=sub_id,
                customer=sub["customer"],
            )
            events = [
                self._event("checkout.session.completed", session),
                self._event("invoice.paid", self._invoice(sub, paid=True)),
            ]
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
        return Reply(303, headers={"Location": target}, html="", after=lambda: self._send(events))

    def _page(self, method: str, path: str, form: dict) -> Reply:
        kind, _, ident = path.strip("/").partition("/")
        if kind == "pay":
            session = self.checkout_sessions.get(ident)
            if session is None:
                return Reply(404, html=_page("No such checkout."))
            if method == "POST":
                return self.pay(ident, card=form.get("card", ""))
            return Reply(200, html=_pay_form(session, ""))
        portal = self.portal_sessions.get(ident)
        if portal is None:
            return Reply(404, html=_page("No such portal session."))
        if method == "POST":
            return self.card_replace(ident, card=form.get("card", ""))
        return Reply(200, html=_portal_form(ident, ""))

    def card_replace(self, portal_id: str, *, card: str) -> Reply:
        """The portal's new card: what was past due is retried at once (Stripe's behaviour
        when a customer updates their default payment method)."""
        with self.lock:
            portal = self.portal_sessions[portal_id]
            if card.replace(" ", "") == self.declined_card:
                return Reply(402, html=_portal_form(portal_id, "Your card was declined."))
            self.failing_cards.discard(portal["customer"])
            events = [
                self._charge(sub, self._now() + 60)
                for sub in self.subscriptions.values()
                if sub["customer"] == portal["customer"] and sub["status"] == "past_due"
            ]
        after = lambda: self._send(events)  # noqa: E731
        return Reply(303, headers={"Location": portal["return_url"]}, html="", after=after)

    def deliver_pending(self, client, url: str = "/billing/webhooks/stripe/", order=None):
        """Send the waiting webhooks through Django's test client (``order``: indexes)."""
        pending, self.pending = self.pending, []
        answers = []
        for i in order if order is not None else range(len(pending)):
            payload, signature = pending[i]
            answers.append(
                client.post(
                    url, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
                )
            )
        return answers


def _page(body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Fake Stripe</title></head>"
        f"<body><h1>Fake Stripe</h1>{body}</body></html>"
    )


def _pay_form(session: dict, problem: str) -> str:
    amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
    note = f'<p role="alert">{html.escape(problem)}</p>' if problem else ""
    return _page(
        f"<p>Subscribe: <strong>{amount}</strong> a month</p>{note}"
        f'<form method="post" action="/pay/{session["id"]}">'
        '<label>Card number <input name="card" value="4242 4242 4242 4242"></label>'
        '<button type="submit">Pay</button></form>'
        f'<p><a href="{html.escape(session["cancel_url"])}">Back</a></p>'
    )


def _portal_form(portal_id: str, problem: str) -> str:
    note = f'<p role="alert">{html.escape(problem)}</p>' if problem else ""
    return _page(
        f"<p>Update your payment method</p>{note}"
        f'<form method="post" action="/portal/{portal_id}">'
        '<label>Card number <input name="card" value="4242 4242 4242 4242"></label>'
        '<button type="submit">Update card</button></form>'
    )
