"""Subscribing at the gateways: Stripe Checkout on the fake Stripe through the official SDK,
activation by the signed webhook exactly once (replays, reordering), forged or mismatched
completions refused, a gateway that does not answer, the return page for its owner only, and
cancelling at the gateway with the paid limits kept to the period's end."""

import datetime
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.limits import effective_limits
from accounts.models import Plan
from billing.models import CheckoutAttempt, GatewayEvent, Invoice, Payment, PlanChange, Subscription
from billing.payments import delinquency_process
from billing.services import billing_profile_save
from tests.billing.conftest import IP_IN

pytestmark = pytest.mark.django_db
DE = {"REMOTE_ADDR": IP_IN["DE"]}
STRIPE_URL = "/billing/webhooks/stripe/"


@pytest.fixture
def addressed(user, geoip):
    billing_profile_save(user=user, name="Alice", address="1 Weg", country="DE", vat_number="")
    return user


def cpu(user) -> int:
    user.refresh_from_db()
    return effective_limits(user).cpu_seconds_per_day


def choose_hacker(client, **extra):
    data = {"plan": "hacker", "quoted_net_minor": "500", **extra}
    return client.post(reverse("billing:change"), data, **DE)


def start(client, fake):
    response = choose_hacker(client)
    assert response.status_code == 302, response.content.decode()[:500]
    session_id = response["Location"].rsplit("/", 1)[1]
    assert response["Location"] == f"{fake.url}/pay/{session_id}"
    return session_id


def pay(fake, session_id, **kwargs):
    reply = fake.pay(session_id, **kwargs)
    if reply.after:
        reply.after()
    return reply


def send(client, fake, event):
    payload = json.dumps(event).encode()
    return client.post(
        STRIPE_URL,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake.sign(payload),
    )


def test_a_plan_bought_through_stripe_checkout_starts_when_the_webhook_confirms(
    client, alice_client, addressed, fake_stripe
):
    assert "Card (Stripe)" in alice_client.get(reverse("billing:plans")).content.decode()
    session_id = start(alice_client, fake_stripe)
    session = fake_stripe.checkout_sessions[session_id]
    attempt = CheckoutAttempt.objects.get()
    # The gross Warren computed (5.00 + 19% German VAT), tied to the attempt and the user.
    assert (session["amount_total"], session["currency"], session["mode"]) == (
        595,
        "eur",
        "subscription",
    )
    assert session["client_reference_id"] == str(attempt.token)
    assert session["metadata"]["warren_net_minor"] == "500"
    assert session["success_url"].endswith(reverse("billing:checkout", args=[attempt.token]))
    assert f"warren-checkout-{attempt.token}" in fake_stripe.idempotent
    assert (attempt.user, attempt.gross_monthly_minor, attempt.evidence.accepted) == (
        addressed,
        595,
        True,
    )
    # Nothing changes before the gateway confirms; the return page says it is waiting.
    assert cpu(addressed) == 100
    page = alice_client.get(reverse("billing:checkout", args=[attempt.token])).content.decode()
    assert "Waiting for confirmation from Stripe" in page and 'http-equiv="refresh"' in page

    reply = pay(fake_stripe, session_id)
    assert reply.status == 303 and reply.headers["Location"] == session["success_url"]
    pending = list(fake_stripe.pending)
    answers = fake_stripe.deliver_pending(client)
    assert [a.content for a in answers] == [b"recorded", b"recorded"]
    subscription = Subscription.objects.get(user=addressed)
    assert (subscription.gateway, subscription.gateway_id, subscription.source) == (
        "stripe",
        session["subscription"],
        Subscription.Source.GATEWAY,
    )
    assert cpu(addressed) == 2000
    [invoice] = Invoice.objects.filter(user=addressed)
    assert invoice.gross_minor == 595 and Payment.objects.get().invoice == invoice
    page = alice_client.get(reverse("billing:checkout", args=[attempt.token])).content.decode()
    assert "You are subscribed to Hacker" in page and "refresh" not in page

    # Replays change nothing: one plan change, one invoice, one payment.
    fake_stripe.pending = pending + pending
    fake_stripe.deliver_pending(client)
    assert PlanChange.objects.filter(user=addressed, source="gateway").count() == 1
    assert Invoice.objects.count() == 1 and Payment.objects.count() == 1
    assert GatewayEvent.objects.count() == 2


def test_a_payment_arriving_before_the_completion_pays_once_the_checkout_completes(
    client, alice_client, addressed, fake_stripe
):
    session_id = start(alice_client, fake_stripe)
    pay(fake_stripe, session_id)
    first, second = fake_stripe.deliver_pending(client, order=[1, 0])
    assert (first.content, second.content) == (b"refused", b"recorded")
    early = GatewayEvent.objects.get(kind="invoice.paid")
    assert early.outcome == "recorded" and early.subscription is not None
    assert Payment.objects.get().amount_minor == 595
    assert Subscription.objects.get(user=addressed).next_invoice_date > timezone.localdate()


def test_forged_mismatched_or_foreign_completions_are_refused_and_change_nothing(
    client, alice_client, outsider_client, addressed, outsider, fake_stripe
):
    alice_session = start(alice_client, fake_stripe)
    alice = CheckoutAttempt.objects.get(user=addressed)
    billing_profile_save(user=outsider, name="Bob", address="2 Weg", country="DE", vat_number="")
    bob_session = start(outsider_client, fake_stripe)
    completed = {
        "object": "checkout.session",
        "id": alice_session,
        "client_reference_id": str(alice.token),
        "subscription": "sub_forged",
        "amount_total": 595,
        "currency": "eur",
    }
    # Bob's session presented as Alice's checkout (his reference swapped for hers).
    foreign = fake_stripe._event("checkout.session.completed", {**completed, "id": bob_session})
    assert send(client, fake_stripe, foreign).content == b"refused"
    cheap = fake_stripe._event("checkout.session.completed", {**completed, "amount_total": 1})
    assert send(client, fake_stripe, cheap).content == b"refused"
    dollars = fake_stripe._event("checkout.session.completed", {**completed, "currency": "usd"})
    assert send(client, fake_stripe, dollars).content == b"refused"
    nobody = {**completed, "client_reference_id": str(uuid.uuid4())}
    assert send(client, fake_stripe, fake_stripe._event("x", nobody)).content == b"ignored"
    unknown = fake_stripe._event("checkout.session.completed", nobody)
    assert send(client, fake_stripe, unknown).content == b"refused"
    garbage = {**completed, "client_reference_id": "not-a-uuid"}
    garbled = fake_stripe._event("checkout.session.completed", garbage)
    assert send(client, fake_stripe, garbled).content == b"refused"
    payload = json.dumps(fake_stripe._event("checkout.session.completed", completed)).encode()
    forged = fake_stripe.sign(payload, secret="whsec_someone_else")
    response = client.post(
        STRIPE_URL, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=forged
    )
    assert response.status_code == 400
    assert not Subscription.objects.filter(gateway="stripe").exists()
    assert cpu(addressed) == 100
    assert set(CheckoutAttempt.objects.values_list("status", flat=True)) == {"open"}
    # The genuine completion still activates Alice's plan, and only hers.
    pay(fake_stripe, alice_session)
    fake_stripe.deliver_pending(client)
    assert Subscription.objects.get(user=addressed).gateway == "stripe"
    assert not Subscription.objects.filter(user=outsider, gateway="stripe").exists()


def test_the_return_page_is_its_owners_only(
    alice_client, outsider_client, client, addressed, fake_stripe
):
    start(alice_client, fake_stripe)
    url = reverse("billing:checkout", args=[CheckoutAttempt.objects.get().token])
    assert alice_client.get(url).status_code == 200
    assert outsider_client.get(url).status_code == 404
    assert client.get(url).status_code == 302  # to the login page
    assert "nothing was charged" in alice_client.get(url + "?cancelled=1").content.decode()
    assert outsider_client.get(reverse("billing:checkout", args=[uuid.uuid4()])).status_code == 404


def test_a_gateway_that_times_out_or_fails_leaves_nothing_half_written(
    alice_client, addressed, fake_stripe
):
    fake_stripe.hang_seconds = 2
    for failure in ("hang", fake_stripe_500()):
        fake_stripe.failures.append(failure)
        response = choose_hacker(alice_client)
        assert response.status_code == 503
        assert "did not answer: nothing was charged or changed" in response.content.decode()
    assert not CheckoutAttempt.objects.exists()
    assert not Subscription.objects.filter(user=addressed).exclude(source="free").exists()
    assert cpu(addressed) == 100


def fake_stripe_500():
    from tests.fakes.gateway_http import Reply

    return Reply(500, {"error": {"type": "api_error", "message": "Something went wrong"}})


def test_bad_choices_are_refused_before_any_gateway_call(alice_client, user, geoip, fake_stripe):
    response = choose_hacker(alice_client)
    assert response.status_code == 400 and "billing address" in response.content.decode()
    billing_profile_save(user=user, name="Alice", address="1 Weg", country="DE", vat_number="")
    response = choose_hacker(alice_client, gateway="bitcoin")
    assert response.status_code == 400 and "Choose how to pay." in response.content.decode()
    response = alice_client.post(
        reverse("billing:change"), {"plan": "hacker", "quoted_net_minor": "1"}, **DE
    )
    assert response.status_code == 400 and "price has changed" in response.content.decode()
    response = alice_client.post(
        reverse("billing:change"),
        {"plan": "hacker", "quoted_net_minor": "500"},
        REMOTE_ADDR=IP_IN["US"],
    )
    assert response.status_code == 403
    assert not CheckoutAttempt.objects.exists()
    assert fake_stripe.total_calls("POST /v1/checkout") == 0


@pytest.fixture
def stripe_subscriber(client, alice_client, addressed, fake_stripe):
    pay(fake_stripe, start(alice_client, fake_stripe))
    fake_stripe.deliver_pending(client)
    return Subscription.objects.get(user=addressed)


def test_cancelling_stops_the_gateway_and_keeps_the_paid_limits_to_the_period_end(
    client, alice_client, outsider_client, stripe_subscriber, fake_stripe
):
    sub = stripe_subscriber
    end = sub.next_invoice_date
    page = alice_client.get(reverse("account")).content.decode()
    assert "Cancel subscription" in page and "Paid through Stripe" in page
    assert outsider_client.post(reverse("billing:cancel")).status_code == 404
    assert alice_client.get(reverse("billing:cancel")).status_code == 405
    fake_stripe.failures.append(fake_stripe_500())
    response = alice_client.post(reverse("billing:cancel"), follow=True)
    assert "nothing was cancelled" in response.content.decode()
    sub.refresh_from_db()
    assert sub.cancel_at is None

    response = alice_client.post(reverse("billing:cancel"), follow=True)
    assert f"limits stay until {end:%-d %B %Y}" in response.content.decode()
    assert fake_stripe.subscriptions[sub.gateway_id]["cancel_at_period_end"] is True
    sub.refresh_from_db()
    assert (sub.cancel_at, sub.next_invoice_date) == (end, None)
    assert "Cancel subscription" not in alice_client.get(reverse("account")).content.decode()
    assert alice_client.post(reverse("billing:cancel")).status_code == 404  # nothing left

    # At the period's end Stripe deletes it (its webhook changes nothing more) and the
    # nightly job moves the account to the free plan.
    fake_stripe.webhooks = True
    fake_stripe.advance_to(end)
    assert [a.content for a in fake_stripe.deliver_pending(client)] == [b"recorded"]
    assert fake_stripe.charged[sub.gateway_id] == [(timezone.localdate(), 595)]  # no renewal
    assert cpu(sub.user) == 2000
    at_end = datetime.datetime.combine(end, datetime.time(12), tzinfo=datetime.UTC)
    assert delinquency_process(now=at_end)["ended"] == 1
    sub.user.refresh_from_db()
    assert cpu(sub.user) == 100


def test_choosing_the_free_plan_cancels_at_the_gateway(
    alice_client, stripe_subscriber, fake_stripe
):
    free = Plan.objects.get(monthly_price_minor=0, is_public=True)
    response = alice_client.post(
        reverse("billing:change"), {"plan": free.slug, "quoted_net_minor": "0"}, follow=True, **DE
    )
    assert "Cancelled: nothing more will be charged" in response.content.decode()
    assert fake_stripe.subscriptions[stripe_subscriber.gateway_id]["cancel_at_period_end"] is True
    assert cpu(stripe_subscriber.user) == 2000


def test_a_subscriber_changing_plan_is_not_sent_to_checkout_again(
    alice_client, stripe_subscriber, fake_stripe
):
    plan = Plan.objects.filter(is_public=True, monthly_price_minor__gt=500).first()
    page = alice_client.get(reverse("billing:plans")).content.decode()
    assert 'name="gateway"' not in page
    response = alice_client.post(
        reverse("billing:change"),
        {"plan": plan.slug, "quoted_net_minor": str(plan.monthly_price_minor)},
        **DE,
    )
    assert response.status_code == 302 and response["Location"] == reverse("billing:plans")
    assert len(fake_stripe.checkout_sessions) == 1
    stripe_subscriber.refresh_from_db()
    assert stripe_subscriber.description == plan.name


# --- PayPal's approval flow -------------------------------------------------------------------


def approve(fake, sub_id):
    reply = fake.approve(sub_id)
    if reply.after:
        reply.after()
    return reply


def test_a_plan_bought_through_paypal_starts_when_its_activation_is_verified(
    client, alice_client, addressed, fake_stripe, fake_paypal
):
    page = alice_client.get(reverse("billing:plans")).content.decode()
    assert 'value="paypal"' in page and 'value="stripe"' in page  # both offered: a choice
    response = choose_hacker(alice_client, gateway="paypal")
    assert response.status_code == 302
    sub_id = response["Location"].rsplit("/", 1)[1]
    assert response["Location"] == f"{fake_paypal.url}/approve/{sub_id}"
    attempt = CheckoutAttempt.objects.get()
    request = fake_paypal.created[sub_id]
    # Net plus PayPal's separate tax percentage, tied to the attempt.
    assert request["plan_id"] == fake_paypal.plan_id and request["custom_id"] == str(attempt.token)
    assert request["plan"]["billing_cycles"][0]["pricing_scheme"]["fixed_price"] == {
        "currency_code": "EUR",
        "value": "5.00",
    }
    assert request["plan"]["taxes"] == {"percentage": "19.00", "inclusive": False}
    assert f"warren-checkout-{attempt.token}" in fake_paypal.request_ids
    assert attempt.session_id == sub_id and cpu(addressed) == 100

    reply = approve(fake_paypal, sub_id)
    assert reply.headers["Location"].startswith(request["application_context"]["return_url"])
    pending = list(fake_paypal.pending)
    answers = fake_paypal.deliver_pending(client)
    assert [a.content for a in answers] == [b"recorded", b"recorded"]
    subscription = Subscription.objects.get(user=addressed)
    assert (subscription.gateway, subscription.gateway_id) == ("paypal", sub_id)
    assert cpu(addressed) == 2000
    assert Payment.objects.get().amount_minor == 595
    fake_paypal.pending = pending
    fake_paypal.deliver_pending(client)  # replays
    assert PlanChange.objects.filter(source="gateway").count() == 1 and Payment.objects.count() == 1

    # An unsigned activation is refused by PayPal's verification.
    payload, _headers = pending[0]
    response = client.post("/billing/webhooks/paypal/", payload, content_type="application/json")
    assert response.status_code == 400

    # Cancelling cancels at PayPal; the limits stay to the period's end.
    response = alice_client.post(reverse("billing:cancel"), follow=True)
    assert "limits stay until" in response.content.decode()
    assert fake_paypal.subscriptions[sub_id]["status"] == "CANCELLED"
    subscription.refresh_from_db()
    assert subscription.cancel_at is not None and cpu(addressed) == 2000


def test_an_activation_of_another_paypal_subscription_is_refused(
    client, alice_client, outsider_client, addressed, outsider, fake_paypal
):
    choose_hacker(alice_client, gateway="paypal")
    billing_profile_save(user=outsider, name="Bob", address="2 Weg", country="DE", vat_number="")
    bob = outsider_client.post(
        reverse("billing:change"), {"plan": "hacker", "quoted_net_minor": "500"}, **DE
    )
    bob_sub = bob["Location"].rsplit("/", 1)[1]
    alice = CheckoutAttempt.objects.get(user=addressed)
    # Bob's approved subscription carrying Alice's reference.
    fake_paypal.subscriptions[bob_sub]["custom_id"] = str(alice.token)
    approve(fake_paypal, bob_sub)
    answers = fake_paypal.deliver_pending(client)
    assert answers[0].content == b"refused"
    assert not Subscription.objects.filter(gateway="paypal").exists()
    assert cpu(addressed) == 100 and cpu(outsider) == 100


def test_paypal_without_its_catalog_plan_is_not_offered(
    alice_client, addressed, fake_paypal, settings
):
    settings.WARREN_PAYPAL_PLAN_ID = ""
    assert 'name="gateway"' not in alice_client.get(reverse("billing:plans")).content.decode()


def test_a_second_checkout_paid_in_another_tab_is_cancelled_not_charged_twice(
    client, alice_client, addressed, fake_stripe, django_capture_on_commit_callbacks
):
    first, second = start(alice_client, fake_stripe), start(alice_client, fake_stripe)
    pay(fake_stripe, first)
    pay(fake_stripe, second)
    with django_capture_on_commit_callbacks(execute=True):
        answers = fake_stripe.deliver_pending(client)
    assert [a.content for a in answers] == [b"recorded", b"recorded", b"refused", b"refused"]
    kept = fake_stripe.checkout_sessions[first]["subscription"]
    extra = fake_stripe.checkout_sessions[second]["subscription"]
    assert Subscription.objects.get(user=addressed).gateway_id == kept
    assert fake_stripe.subscriptions[extra]["cancel_at_period_end"] is True
    assert fake_stripe.subscriptions[kept]["cancel_at_period_end"] is False
    assert (
        "refund its first payment"
        in GatewayEvent.objects.get(
            kind="checkout.session.completed", gateway_subscription_id=extra
        ).detail
    )
    assert PlanChange.objects.filter(source="gateway").count() == 1
    page = alice_client.get(
        reverse("billing:checkout", args=[CheckoutAttempt.objects.get(session_id=second).token])
    ).content.decode()
    assert "could not start your plan" in page
