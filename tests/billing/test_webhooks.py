"""Signed webhooks from the fake gateways: payments pay Billing I's invoices once whatever the
order or number of deliveries; failures make a late payer; forgeries and disagreements are
refused without a 500; the grace period, the banner, and paying again."""

import datetime
import json
import time
import uuid

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.limits import effective_limits
from billing.models import GatewayEvent, Invoice, Payment, Subscription
from billing.payments import delinquency_process
from tests.billing.test_invoicing import subscribed

pytestmark = pytest.mark.django_db
Outcome = GatewayEvent.Outcome
STRIPE_URL = "/billing/webhooks/stripe/"
PAYPAL_URL = "/billing/webhooks/paypal/"


@pytest.fixture
def paying(user, geoip, fake_stripe):
    """Alice on the hacker plan (5.00 + 19% German VAT), collected by the fake Stripe, her
    invoice due today."""
    subscription = subscribed(user, country="DE")
    sub_id = fake_stripe.add_subscription(
        gross_minor=595, period_end=timezone.localdate() + datetime.timedelta(days=1)
    )
    Subscription.objects.filter(pk=subscription.pk).update(
        gateway="stripe", gateway_id=sub_id, next_invoice_date=timezone.localdate()
    )
    return Subscription.objects.get(pk=subscription.pk)


def stripe_event(kind, sub_id, *, amount=595, currency="eur", at=None, event_id=None):
    at = at or int(time.time())
    obj = {
        "object": "invoice",
        "id": f"in_{at}",
        "amount_paid": amount,
        "amount_due": amount,
        "currency": currency,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id},
        },
    }
    if kind == "customer.subscription.deleted":
        obj = {"object": "subscription", "id": sub_id, "status": "canceled"}
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": kind,
        "created": at,
        "data": {"object": obj},
    }


def send_stripe(client, fake, event, *, signature=None):
    payload = json.dumps(event).encode()
    return client.post(
        STRIPE_URL,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature or fake.sign(payload),
    )


def test_a_payment_issues_and_pays_the_invoice_once_however_often_it_comes(
    client, paying, fake_stripe
):
    event = stripe_event("invoice.paid", paying.gateway_id)
    for _ in range(3):
        response = send_stripe(client, fake_stripe, event)
        assert response.status_code == 200 and response.content == b"recorded"
    [invoice] = Invoice.objects.filter(user=paying.user)
    assert invoice.gross_minor == 595
    assert Payment.objects.get().invoice == invoice
    assert GatewayEvent.objects.count() == 1


def test_a_stale_failure_after_the_payment_changes_nothing(client, paying, fake_stripe):
    now = int(time.time())
    send_stripe(client, fake_stripe, stripe_event("invoice.paid", paying.gateway_id, at=now))
    late = stripe_event("invoice.payment_failed", paying.gateway_id, at=now - 3600)
    assert send_stripe(client, fake_stripe, late).content == b"ignored"
    paying.refresh_from_db()
    assert paying.delinquent_since is None


def test_forged_or_missigned_webhooks_are_refused_and_not_recorded(client, paying, fake_stripe):
    event = stripe_event("invoice.paid", paying.gateway_id)
    payload = json.dumps(event).encode()
    forged = fake_stripe.sign(payload, secret="whsec_someone_else")
    assert send_stripe(client, fake_stripe, event, signature=forged).status_code == 400
    assert send_stripe(client, fake_stripe, event, signature="t=1,v1=00").status_code == 400
    old = fake_stripe.sign(payload, at=int(time.time()) - 3600)  # a replay from an hour ago
    assert send_stripe(client, fake_stripe, event, signature=old).status_code == 400
    assert client.post(STRIPE_URL, b"{", content_type="application/json").status_code == 400
    assert client.get(STRIPE_URL).status_code == 405
    assert not GatewayEvent.objects.exists() and not Invoice.objects.exists()


def test_unknown_subscriptions_and_disagreeing_amounts_are_refused_for_staff(
    client, paying, fake_stripe, caplog
):
    unknown = stripe_event("invoice.paid", "sub_nobody")
    assert send_stripe(client, fake_stripe, unknown).content == b"refused"
    short = stripe_event("invoice.paid", paying.gateway_id, amount=500)
    assert send_stripe(client, fake_stripe, short).content == b"refused"
    dollars = stripe_event("invoice.paid", paying.gateway_id, currency="usd")
    assert send_stripe(client, fake_stripe, dollars).content == b"refused"
    assert not Payment.objects.exists()
    details = sorted(GatewayEvent.objects.values_list("detail", flat=True))
    assert any("No Warren subscription" in d for d in details)
    assert any("Paid 500 where invoice" in d for d in details)
    assert any("Paid in USD" in d for d in details)
    assert "refused" in caplog.text
    # The right amount afterwards still pays the invoice.
    assert (
        send_stripe(client, fake_stripe, stripe_event("invoice.paid", paying.gateway_id)).content
        == b"recorded"
    )


def test_paypal_webhooks_are_verified_by_paypal(client, user, geoip, fake_paypal):
    subscription = subscribed(user, country="DE")
    sub_id = fake_paypal.add_subscription(
        net_minor=500, tax_percentage="19.00", next_billing=timezone.localdate()
    )
    Subscription.objects.filter(pk=subscription.pk).update(
        gateway="paypal", gateway_id=sub_id, next_invoice_date=timezone.localdate()
    )
    event = {
        "id": "WH-1",
        "event_type": "PAYMENT.SALE.COMPLETED",
        "create_time": timezone.now().isoformat().replace("+00:00", "Z"),
        "resource": {
            "billing_agreement_id": sub_id,
            "amount": {"total": "5.95", "currency": "EUR"},
        },
    }
    headers = {f"HTTP_{k.replace('-', '_')}": v for k, v in fake_paypal.sign(event).items()}
    response = client.post(
        PAYPAL_URL, json.dumps(event), content_type="application/json", **headers
    )
    assert response.content == b"recorded"
    assert Payment.objects.get().amount_minor == 595
    # The same body with a forged id, or unsigned: PayPal says FAILURE.
    forged = {**event, "id": "WH-2"}
    response = client.post(
        PAYPAL_URL, json.dumps(forged), content_type="application/json", **headers
    )
    assert response.status_code == 400
    assert (
        client.post(PAYPAL_URL, json.dumps(forged), content_type="application/json").status_code
        == 400
    )
    assert GatewayEvent.objects.count() == 1


def test_paypal_unreachable_for_verification_asks_for_a_retry(client, fake_paypal, settings):
    settings.WARREN_PAYPAL_API_BASE = "http://127.0.0.1:9"  # nothing listens
    event = {"id": "WH-9", "event_type": "PAYMENT.SALE.COMPLETED", "resource": {}}
    response = client.post(PAYPAL_URL, json.dumps(event), content_type="application/json")
    assert response.status_code == 503
    assert not GatewayEvent.objects.exists()


def test_a_late_payer_is_reminded_then_on_free_limits_until_they_pay(
    client, alice_client, paying, fake_stripe, settings, django_capture_on_commit_callbacks
):
    settings.WARREN_BILLING_DUNNING_DAYS = [1, 3]
    settings.WARREN_BILLING_GRACE_DAYS = 5
    user = paying.user
    assert effective_limits(user).cpu_seconds_per_day == 2000
    failed_at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        send_stripe(
            client,
            fake_stripe,
            stripe_event(
                "invoice.payment_failed", paying.gateway_id, at=int(failed_at.timestamp())
            ),
        )
    paying.refresh_from_db()
    assert paying.delinquent_since is not None
    assert len(mail.outbox) == 1 and "did not go through" in mail.outbox[0].subject
    page = alice_client.get(reverse("dashboard")).content.decode()
    assert 'id="delinquent-banner"' in page and reverse("billing:payment_method") in page
    day = datetime.timedelta(days=1)
    assert delinquency_process(now=failed_at + day / 2) == {
        "reminded": 0,
        "suspended": 0,
        "ended": 0,
    }
    assert delinquency_process(now=failed_at + day)["reminded"] == 1
    assert delinquency_process(now=failed_at + day)["reminded"] == 0  # once per step
    assert delinquency_process(now=failed_at + 3 * day)["reminded"] == 1
    assert effective_limits(user).cpu_seconds_per_day == 2000  # still in the grace period
    assert delinquency_process(now=failed_at + 5 * day)["suspended"] == 1
    user.refresh_from_db()
    assert effective_limits(user).cpu_seconds_per_day == 100  # the free plan's
    assert "come back as soon as you pay" in alice_client.get(reverse("dashboard")).content.decode()
    # They fix the card; Stripe's retry succeeds: paid limits at once, banner gone.
    send_stripe(client, fake_stripe, stripe_event("invoice.paid", paying.gateway_id))
    user.refresh_from_db()
    assert effective_limits(user).cpu_seconds_per_day == 2000
    assert 'id="delinquent-banner"' not in alice_client.get(reverse("dashboard")).content.decode()


def test_staff_see_late_payers(staff_client, client, paying, fake_stripe):
    send_stripe(client, fake_stripe, stripe_event("invoice.payment_failed", paying.gateway_id))
    listing = staff_client.get(
        reverse("admin:billing_subscription_changelist"), {"delinquent": "yes"}
    ).content.decode()
    assert paying.user.username in listing


def test_the_payment_method_link_opens_the_gateways_page_for_its_owner_only(
    alice_client, outsider_client, paying, fake_stripe
):
    response = alice_client.get(reverse("billing:payment_method"))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{fake_stripe.url}/portal/")
    [session] = fake_stripe.portal_sessions.values()
    assert session["customer"] == fake_stripe.subscriptions[paying.gateway_id]["customer"]
    assert outsider_client.get(reverse("billing:payment_method")).status_code == 404
    fake_stripe.failures.append("hang")
    fake_stripe.hang_seconds = 2
    response = alice_client.get(reverse("billing:payment_method"), follow=True)
    assert "did not answer" in response.content.decode()


def test_cancelling_keeps_the_paid_limits_to_the_period_end_then_free(client, paying, fake_stripe):
    end = paying.next_invoice_date
    send_stripe(
        client, fake_stripe, stripe_event("customer.subscription.deleted", paying.gateway_id)
    )
    paying.refresh_from_db()
    assert paying.cancel_at == end and paying.next_invoice_date is None
    at_end = datetime.datetime.combine(end, datetime.time(12), tzinfo=datetime.UTC)
    assert delinquency_process(now=at_end - datetime.timedelta(days=1))["ended"] == 0
    assert effective_limits(paying.user).cpu_seconds_per_day == 2000
    assert delinquency_process(now=at_end)["ended"] == 1
    paying.refresh_from_db()
    assert (paying.net_monthly_minor, paying.gateway, paying.cancel_at) == (0, "", None)
    paying.user.refresh_from_db()
    assert effective_limits(paying.user).cpu_seconds_per_day == 100


def test_a_plan_change_changes_the_amount_at_the_gateway_without_a_new_trial(
    paying, fake_stripe, django_capture_on_commit_callbacks
):
    from accounts.models import Plan
    from billing.services import subscription_change
    from tests.billing.conftest import IP_IN

    plan = Plan.objects.filter(is_public=True, monthly_price_minor__gt=500).first()
    due = paying.next_invoice_date
    with django_capture_on_commit_callbacks(execute=True):
        subscription_change(
            user=paying.user,
            ip_address=IP_IN["DE"],
            quoted_net_minor=plan.monthly_price_minor,
            plan=plan,
        )
    paying.refresh_from_db()
    assert (paying.next_invoice_date, paying.gateway) == (due, "stripe")
    expected = plan.monthly_price_minor + round(plan.monthly_price_minor * 0.19)
    assert fake_stripe.gross(paying.gateway_id) == expected
    assert fake_stripe.prorations[paying.gateway_id] == "none"
