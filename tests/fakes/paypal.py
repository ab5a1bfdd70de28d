"""PayPal for tests: a stateful local server speaking the REST Subscriptions API as Warren uses
it over httpx (``WARREN_PAYPAL_API_BASE``).

OAuth client credentials, subscriptions shown and listed in pages (``page_size`` up to 20,
``page``, ``total_pages``; ``fields=plan`` adds the plan with its net price and ``taxes``), the
documented PATCH of a subscription's fixed price and tax percentage, PayPal's error bodies
(``name``, ``message``, ``debug_id``, ``details[].issue``), its refusal of a pricing change
within ``window_hours`` of the next billing time, ``PayPal-Request-Id`` replays, 429 with
``Retry-After``, a clock (``now``; ``advance_to`` charges what has come due) and
``/v1/notifications/verify-webhook-signature``.

Subscribing: ``POST /v1/billing/subscriptions`` (the catalog ``plan_id`` with the plan's price
and taxes overridden) answers an ``APPROVAL_PENDING`` subscription with an ``approve`` link to a
small page here; approving activates it, takes the first payment, sends the signed
``BILLING.SUBSCRIPTION.ACTIVATED`` and ``PAYMENT.SALE.COMPLETED`` webhooks (to ``webhook_url``
or into ``pending``) and returns to the ``return_url``. ``.../cancel`` cancels.
"""

import base64
import datetime
import html
import itertools
import json
import re
import uuid
from decimal import ROUND_HALF_UP, Decimal

from tests.fakes.gateway_http import FakeHttpServer, Reply
from tests.fakes.stripe import add_month

UTC = datetime.UTC


def money(minor: int) -> str:
    return f"{Decimal(minor) / 100:.2f}"


def failure(status: int, name: str, message: str, issue: str = "", description: str = "") -> Reply:
    body = {"name": name, "message": message, "debug_id": uuid.uuid4().hex[:13]}
    if issue:
        body["details"] = [{"issue": issue, "description": description or message}]
    return Reply(status, body)


class FakePayPal(FakeHttpServer):
    def __init__(self, *, client_id: str = "warren-client", secret: str = "warren-secret"):  # noqa: S107
        super().__init__()
        self.client_id, self.secret = client_id, secret
        self.tokens: set[str] = set()
        self.subscriptions: dict[str, dict] = {}
        self.order: list[str] = []
        self.version = 0
        self.request_ids: dict[str, Reply] = {}
        self.charged: dict[str, list[tuple[datetime.date, int]]] = {}
        self.failing: set[str] = set()
        self.window_hours = 72
        self.now = datetime.datetime.now(UTC)
        self.webhook_id = "WH-warren-fake"
        self.signed_transmissions: set[str] = set()
        self.plan_id = "P-WARREN"
        self.created: dict[str, dict] = {}  # subscription -> the creation request's body
        self.webhook_url: str | None = None
        self.pending: list[tuple[bytes, dict]] = []  # (payload, headers) not yet delivered
        self.delivered: list[tuple[str, int]] = []
        self._ids = itertools.count(1)

    def _route_name(self, path: str) -> str:
        return re.sub(r"/I-\w+", "/{id}", path)

    # --- state set up by tests ---------------------------------------------------------------

    def add_subscription(
        self,
        *,
        net_minor: int,
        tax_percentage: str,
        next_billing: datetime.date,
        currency: str = "EUR",
        status: str = "ACTIVE",
        custom_id: str = "",
    ) -> str:
        with self.lock:
            sub_id = f"I-{next(self._ids):012d}"
            self.subscriptions[sub_id] = {
                "id": sub_id,
                "plan_id": "P-WARREN",
                "status": status,
                "custom_id": custom_id,
                "quantity": "1",
                "create_time": self.now.isoformat().replace("+00:00", "Z"),
                "billing_info": {
                    "next_billing_time": f"{next_billing.isoformat()}T10:00:00Z",
                    "failed_payments_count": 0,
                    "outstanding_balance": {"currency_code": currency, "value": "0.00"},
                },
                "plan": {
                    "billing_cycles": [
                        {
                            "sequence": 1,
                            "tenure_type": "REGULAR",
                            "total_cycles": 0,
                            "frequency": {"interval_unit": "MONTH", "interval_count": 1},
                            "pricing_scheme": {
                                "fixed_price": {
                                    "currency_code": currency,
                                    "value": money(net_minor),
                                }
                            },
                        }
                    ],
                    "taxes": {"percentage": tax_percentage, "inclusive": False},
                },
                "links": [
                    {
                        "href": f"{self.url}/v1/billing/subscriptions/{sub_id}",
                        "rel": "self",
                        "method": "GET",
                    }
                ],
            }
            self.order.append(sub_id)
            self.version += 1
            return sub_id

    def next_billing(self, sub_id: str) -> datetime.date:
        return datetime.date.fromisoformat(
            self.subscriptions[sub_id]["billing_info"]["next_billing_time"][:10]
        )

    def gross(self, sub_id: str) -> int:
        plan = self.subscriptions[sub_id]["plan"]
        net = int(
            Decimal(plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"]["value"]) * 100
        )
        tax = Decimal(net) * Decimal(plan["taxes"]["percentage"]) / 100
        return net + int(tax.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def cancel(self, sub_id: str) -> None:
        with self.lock:
            self.subscriptions[sub_id]["status"] = "CANCELLED"
            self.version += 1

    def advance_to(self, day: datetime.date) -> None:
        """Move the clock to ``day`` (noon UTC) and charge what has come due by then."""
        with self.lock:
            self.now = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
            for sub_id, sub in self.subscriptions.items():
                while sub["status"] == "ACTIVE" and self.next_billing(sub_id) <= day:
                    if sub_id in self.failing:
                        sub["billing_info"]["failed_payments_count"] += 1
                        break
                    due = self.next_billing(sub_id)
                    self.charged.setdefault(sub_id, []).append((due, self.gross(sub_id)))
                    sub["billing_info"]["next_billing_time"] = (
                        f"{add_month(due).isoformat()}T10:00:00Z"
                    )

    def set_clock(self, day: datetime.date) -> None:
        with self.lock:
            self.now = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=UTC)

    # --- the API -----------------------------------------------------------------------------

    def handle(self, method, path, query, headers, body) -> Reply:
        if path.startswith("/approve/"):
            return self._approval_page(method, path.rsplit("/", 1)[1])
        if path == "/v1/oauth2/token" and method == "POST":
            return self._token(headers, body)
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return Reply(
                401,
                {
                    "error": "invalid_token",
                    "error_description": "Token signature verification failed",
                },
            )
        request_id = headers.get("PayPal-Request-Id")
        if request_id and request_id in self.request_ids:
            return self.request_ids[request_id]
        reply = self._route(method, path, query, body)
        if request_id and method != "GET" and reply.status < 500:
            self.request_ids[request_id] = reply
        return reply

    def _token(self, headers, body) -> Reply:
        expected = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        if (
            headers.get("Authorization") != f"Basic {expected}"
            or b"grant_type=client_credentials" not in body
        ):
            return Reply(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 32400})

    def _route(self, method, path, query, body) -> Reply:
        if path == "/v1/billing/subscriptions" and method == "GET":
            return self._list(query)
        if path == "/v1/notifications/verify-webhook-signature" and method == "POST":
            return self._verify(body)
        if path == "/v1/billing/subscriptions" and method == "POST":
            return self._create(body)
        match = re.fullmatch(r"/v1/billing/subscriptions/(I-\w+)/cancel", path)
        if match and method == "POST":
            return self._cancel(match.group(1))
        match = re.fullmatch(r"/v1/billing/subscriptions/(I-\w+)", path)
        if match:
            sub = self.subscriptions.get(match.group(1))
            if sub is None:
                return failure(
                    404,
                    "RESOURCE_NOT_FOUND",
                    "The specified resource does not exist.",
                    "INVALID_RESOURCE_ID",
                    "Requested resource ID was not found.",
                )
            if method == "GET":
                return Reply(200, self._shown(sub, query.get("fields", "")))
            if method == "PATCH":
                return self._patch(sub, body)
        return failure(404, "NOT_FOUND", f"No route for {method} {path}")

    @staticmethod
    def _shown(sub: dict, fields: str) -> dict:
        if "plan" in fields.split(","):
            return sub
        return {k: v for k, v in sub.items() if k != "plan"}

    def _list(self, query) -> Reply:
        try:
            size = int(query.get("page_size", 10))
            page = int(query.get("page", 1))
        except ValueError:
            return failure(
                400, "INVALID_REQUEST", "Request is not well-formed.", "INVALID_PARAMETER_SYNTAX"
            )
        if not 1 <= size <= 20 or page < 1:
            return failure(
                400, "INVALID_REQUEST", "Request is not well-formed.", "INVALID_PARAMETER_VALUE"
            )
        statuses = set(filter(None, query.get("statuses", "").split(",")))
        # Filtering by status makes the pages shift as statuses change; a list fetched page by
        # page in one run sees them in creation order, which is what Warren relies on.
        ids = self._filtered(frozenset(statuses))
        chunk = ids[(page - 1) * size : page * size]
        total_pages = (len(ids) + size - 1) // size
        return Reply(
            200,
            {
                "subscriptions": [
                    self._shown(self.subscriptions[i], query.get("fields", "")) for i in chunk
                ],
                "total_items": len(ids),
                "total_pages": total_pages,
                "links": [],
            },
        )

    def _filtered(self, statuses: frozenset) -> list[str]:
        # Cached per list walk (a 50,000-subscription bench reads 2,500 pages); adding or
        # cancelling a subscription (the only status changes here) bumps the version.
        key = (statuses, self.version)
        if getattr(self, "_filter_key", None) != key:
            self._filter_key = key
            self._filter_ids = [
                i for i in self.order if not statuses or self.subscriptions[i]["status"] in statuses
            ]
        return self._filter_ids

    def _patch(self, sub: dict, body: bytes) -> Reply:
        try:
            operations = json.loads(body)
        except ValueError:
            return failure(
                400, "INVALID_REQUEST", "Request is not well-formed.", "MALFORMED_REQUEST_JSON"
            )
        if sub["status"] != "ACTIVE":
            return failure(
                422,
                "UNPROCESSABLE_ENTITY",
                "The requested action could not be performed.",
                "SUBSCRIPTION_STATUS_INVALID",
                f"Invalid subscription status: {sub['status']}.",
            )
        due = datetime.datetime.fromisoformat(
            sub["billing_info"]["next_billing_time"].replace("Z", "+00:00")
        )
        if due - self.now < datetime.timedelta(hours=self.window_hours):
            return failure(
                422,
                "UNPROCESSABLE_ENTITY",
                "The requested action could not be performed.",
                "SUBSCRIPTION_UPDATE_TOO_CLOSE_TO_BILLING_DATE",
                f"Pricing cannot change within {self.window_hours} hours of the next billing date.",
            )
        plan = sub["plan"]
        for op in operations:
            if op.get("op") != "replace":
                return failure(
                    422, "UNPROCESSABLE_ENTITY", "Unsupported op", "INVALID_PATCH_OPERATION"
                )
            if op["path"] == "/plan/billing_cycles/@sequence==1/pricing_scheme/fixed_price":
                plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"] = op["value"]
            elif op["path"] == "/plan/taxes/percentage":
                plan["taxes"]["percentage"] = op["value"]
            else:
                return failure(
                    422, "UNPROCESSABLE_ENTITY", "Unsupported path", "INVALID_PARAMETER_VALUE"
                )
        return Reply(204)

    # --- webhooks ----------------------------------------------------------------------------

    def sign(self, event: dict) -> dict:
        """Headers PayPal sends with a webhook; only events signed here verify."""
        transmission = uuid.uuid4().hex
        self.signed_transmissions.add(f"{transmission}:{json.dumps(event, sort_keys=True)}")
        return {
            "PAYPAL-TRANSMISSION-ID": transmission,
            "PAYPAL-TRANSMISSION-TIME": self.now.isoformat(),
            "PAYPAL-TRANSMISSION-SIG": "fake-signature",
            "PAYPAL-CERT-URL": f"{self.url}/certs/fake",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }

    def _verify(self, body: bytes) -> Reply:
        request = json.loads(body)
        event = json.dumps(request.get("webhook_event"), sort_keys=True)
        key = f"{request.get('transmission_id')}:{event}"
        ok = request.get("webhook_id") == self.webhook_id and key in self.signed_transmissions
        return Reply(200, {"verification_status": "SUCCESS" if ok else "FAILURE"})

    # --- subscribing -------------------------------------------------------------------------

    def _create(self, body: bytes) -> Reply:
        try:
            request = json.loads(body)
            plan = request["plan"]
            price = plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"]
            net = int(Decimal(price["value"]) * 100)
            percentage = str(Decimal(plan["taxes"]["percentage"]))
            context = request["application_context"]
            back, cancel = context["return_url"], context["cancel_url"]
        except (ValueError, KeyError, IndexError, TypeError, ArithmeticError):
            return failure(
                400, "INVALID_REQUEST", "Request is not well-formed.", "MALFORMED_REQUEST_JSON"
            )
        if request.get("plan_id") != self.plan_id:
            return failure(
                422, "UNPROCESSABLE_ENTITY", "The plan does not exist.", "RESOURCE_NOT_FOUND"
            )
        today = self.now.date()
        sub_id = self.add_subscription(
            net_minor=net,
            tax_percentage=percentage,
            next_billing=today,
            currency=price["currency_code"],
            status="APPROVAL_PENDING",
            custom_id=request.get("custom_id", ""),
        )
        self.created[sub_id] = request
        approve = f"{self.url}/approve/{sub_id}"
        self.subscriptions[sub_id]["links"].append(
            {"href": approve, "rel": "approve", "method": "GET"}
        )
        self._returns = getattr(self, "_returns", {})
        self._returns[sub_id] = (back, cancel)
        sub = self.subscriptions[sub_id]
        return Reply(201, {"id": sub_id, "status": sub["status"], "links": sub["links"]})

    def _cancel(self, sub_id: str) -> Reply:
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub["status"] not in ("ACTIVE", "SUSPENDED"):
            return failure(
                422,
                "UNPROCESSABLE_ENTITY",
                "The requested action could not be performed.",
                "SUBSCRIPTION_STATUS_INVALID",
            )
        self.cancel(sub_id)
        return Reply(204)

    def approve(self, sub_id: str) -> Reply:
        """What the approval page's button does: active, first payment, webhooks, back."""
        with self.lock:
            sub = self.subscriptions[sub_id]
            if sub["status"] != "APPROVAL_PENDING":
                return Reply(200, html=_page("This subscription is not waiting for approval."))
            sub["status"] = "ACTIVE"
            self.version += 1
            today = self.now.date()
            gross = self.gross(sub_id)
            self.charged.setdefault(sub_id, []).append((today, gross))
            sub["billing_info"]["next_billing_time"] = f"{add_month(today).isoformat()}T10:00:00Z"
            currency = sub["plan"]["billing_cycles"][0]["pricing_scheme"]["fixed_price"][
                "currency_code"
            ]
            resource = {k: v for k, v in sub.items() if k != "plan"}
            events = [
                self._event("BILLING.SUBSCRIPTION.ACTIVATED", resource),
                self._event(
                    "PAYMENT.SALE.COMPLETED",
                    {
                        "id": f"SALE-{next(self._ids)}",
                        "billing_agreement_id": sub_id,
                        "amount": {"total": money(gross), "currency": currency},
                        "state": "completed",
                    },
                ),
            ]
            back = f"{self._returns[sub_id][0]}?subscription_id={sub_id}&ba_token=BA-{sub_id}"
        return Reply(303, headers={"Location": back}, html="", after=lambda: self._send(events))

    def _event(self, kind: str, resource: dict) -> dict:
        return {
            "id": f"WH-{uuid.uuid4().hex[:17].upper()}",
            "event_type": kind,
            "resource_type": "subscription" if kind.startswith("BILLING") else "sale",
            "create_time": self.now.isoformat().replace("+00:00", "Z"),
            "resource": json.loads(json.dumps(resource)),
        }

    def _send(self, events: list[dict]) -> None:
        signed = [(json.dumps(event).encode(), self.sign(event)) for event in events]
        if not self.webhook_url:
            self.pending.extend(signed)
            return
        import httpx

        for payload, headers in signed:
            answer = httpx.post(
                self.webhook_url,
                content=payload,
                headers={"Content-Type": "application/json", **headers},
                timeout=30,
            )
            self.delivered.append((json.loads(payload)["event_type"], answer.status_code))

    def deliver_pending(self, client, url: str = "/billing/webhooks/paypal/", order=None):
        """Send the waiting webhooks through Django's test client (``order``: indexes)."""
        pending, self.pending = self.pending, []
        answers = []
        for i in order if order is not None else range(len(pending)):
            payload, headers = pending[i]
            meta = {f"HTTP_{k.replace('-', '_')}": v for k, v in headers.items()}
            answers.append(client.post(url, payload, content_type="application/json", **meta))
        return answers

    def _approval_page(self, method: str, sub_id: str) -> Reply:
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            return Reply(404, html=_page("No such subscription."))
        if method == "POST":
            return self.approve(sub_id)
        _back, cancel = self._returns.get(sub_id, ("", ""))
        return Reply(
            200,
            html=_page(
                f"<p>Subscribe: {money(self.gross(sub_id))} a month</p>"
                f'<form method="post" action="/approve/{sub_id}">'
                '<button type="submit">Agree &amp; Subscribe</button></form>'
                f'<p><a href="{html.escape(cancel)}">Cancel and return</a></p>'
            ),
        )


def _page(body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Fake PayPal</title></head>"
        f"<body><h1>Fake PayPal</h1>{body}</body></html>"
    )
