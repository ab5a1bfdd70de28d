"""What the gateways tell Warren (signed webhooks) and what follows: payments matched to
Billing I's invoices once, failures making a user delinquent, reminders, the grace period,
and cancellations that keep the paid limits to the end of the period.

Every event is recorded once per (gateway, event id) in the same transaction as its effects,
so a replay finds its row and does nothing, and a failure part-way rolls back both (the
gateway sends it again). Order does not matter: a failure older than the last payment is
stale, and a payment pays the oldest unpaid invoice, issuing those that have fallen due first.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import DEFAULT_PLAN_SLUG, Plan
from billing import invoicing
from billing.gateways import WebhookEvent
from billing.models import CheckoutAttempt, GatewayEvent, Invoice, Payment, Subscription

logger = logging.getLogger(__name__)
Outcome = GatewayEvent.Outcome


def gateway_event_record(*, gateway: str, event: WebhookEvent) -> GatewayEvent:
    """Act on a verified webhook exactly once; a replay returns the first record."""
    try:
        with transaction.atomic():
            return _record(gateway, event)
    except IntegrityError:
        # The same event delivered twice at once: the other delivery recorded it.
        return GatewayEvent.objects.get(gateway=gateway, event_id=event.event_id)


def _record(gateway: str, event: WebhookEvent) -> GatewayEvent:
    seen = GatewayEvent.objects.filter(gateway=gateway, event_id=event.event_id).first()
    if seen is not None:
        return seen
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(gateway=gateway, gateway_id=event.gateway_subscription_id)
        .first()
        if event.gateway_subscription_id
        else None
    )
    row = GatewayEvent.objects.create(
        gateway=gateway,
        event_id=event.event_id,
        kind=event.type[:60],
        gateway_subscription_id=event.gateway_subscription_id[:64],
        subscription=subscription,
        amount_minor=event.amount_minor,
        currency=event.currency[:3],
        occurred_at=event.occurred_at,
        outcome=Outcome.RECORDED,
    )
    if event.kind in ("paid", "failed", "cancelled") and subscription is None:
        outcome, detail = Outcome.REFUSED, "No Warren subscription has this gateway id."
    elif event.kind == "paid":
        outcome, detail = _paid(subscription, event, row)
    elif event.kind == "failed":
        outcome, detail = _failed(subscription, event)
    elif event.kind == "cancelled":
        outcome, detail = _cancelled(subscription)
    elif event.kind == "activated":
        outcome, detail = _activated(gateway, event, row)
    else:
        outcome, detail = Outcome.IGNORED, "Not an event Warren acts on."
    if outcome == Outcome.REFUSED:
        logger.warning("%s webhook %s refused: %s", gateway, event.event_id, detail)
    row.outcome, row.detail = outcome, detail[:300]
    row.save(update_fields=["outcome", "detail"])
    return row


def _paid(subscription: Subscription, event: WebhookEvent, row: GatewayEvent):
    if event.currency != subscription.currency:
        return Outcome.REFUSED, f"Paid in {event.currency}, billed in {subscription.currency}."
    # The charge comes a day after the invoice date: issue what has fallen due (if the beat
    # job has not yet), then this payment pays the oldest invoice still unpaid.
    today = max(timezone.localdate(), timezone.localdate(event.occurred_at))
    while invoicing.invoice_issue(subscription_id=subscription.pk, today=today) is not None:
        pass
    invoice = (
        Invoice.objects.filter(
            user=subscription.user, kind=Invoice.Kind.INVOICE, payment__isnull=True
        )
        .order_by("period_start", "number")
        .first()
    )
    if invoice is None:
        return Outcome.REFUSED, "No unpaid invoice for this payment: left for staff."
    if event.amount_minor != invoice.gross_minor:
        return (
            Outcome.REFUSED,
            f"Paid {event.amount_minor} where invoice {invoice.display_number} is "
            f"{invoice.gross_minor}: left for staff.",
        )
    Payment.objects.create(
        invoice=invoice,
        event=row,
        amount_minor=event.amount_minor,
        currency=event.currency,
        paid_at=event.occurred_at,
    )
    if subscription.last_paid_at is None or subscription.last_paid_at < event.occurred_at:
        subscription.last_paid_at = event.occurred_at
    was_suspended = subscription.suspended
    subscription.delinquent_since = None
    subscription.delinquent_reminders = 0
    subscription.suspended = False
    subscription.save(
        update_fields=["last_paid_at", "delinquent_since", "delinquent_reminders", "suspended"]
    )
    if was_suspended:
        _limits_restore(subscription)
    return Outcome.RECORDED, f"Paid invoice {invoice.display_number}."


def _failed(subscription: Subscription, event: WebhookEvent):
    if subscription.last_paid_at and event.occurred_at <= subscription.last_paid_at:
        return Outcome.IGNORED, "Older than the last payment: stale."
    if subscription.delinquent_since is None:
        subscription.delinquent_since = event.occurred_at
        subscription.delinquent_reminders = 0
        subscription.save(update_fields=["delinquent_since", "delinquent_reminders"])
        transaction.on_commit(lambda: _remind(subscription, first=True))
    return Outcome.RECORDED, "Payment failed: delinquent."


def _cancelled(subscription: Subscription):
    if subscription.cancel_at is None:
        # Paid to the end of the period: the limits stay until the next invoice would be.
        subscription.cancel_at = subscription.next_invoice_date or timezone.localdate()
        subscription.next_invoice_date = None
        subscription.save(update_fields=["cancel_at", "next_invoice_date"])
    return Outcome.RECORDED, f"Cancelled: paid limits until {subscription.cancel_at}."


def _activated(gateway: str, event: WebhookEvent, row: GatewayEvent):
    """A checkout completed: activate what its attempt fixed, once, if everything agrees."""
    import uuid

    from billing.services import subscription_activate

    try:
        token = uuid.UUID(event.reference)
    except ValueError:
        return Outcome.REFUSED, "No checkout has this reference."
    attempt = (
        # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the plan's join.
        CheckoutAttempt.objects.select_for_update(of=("self",))
        .select_related("user", "plan", "evidence")
        .filter(token=token, gateway=gateway)
        .first()
    )
    if attempt is None:
        return Outcome.REFUSED, "No checkout has this reference."
    if attempt.status == CheckoutAttempt.Status.COMPLETED:
        return Outcome.IGNORED, "This checkout is already active."
    # Stripe names the Checkout Session completed; PayPal's subscription is the checkout.
    completed = event.session_id or event.gateway_subscription_id
    problem = ""
    if completed != attempt.session_id:
        problem = f"Completes {completed}, not the checkout {attempt.session_id} it names."
    elif not event.gateway_subscription_id:
        problem = "No subscription in the completed checkout."
    elif event.amount_minor is not None and (
        event.amount_minor != attempt.gross_monthly_minor or event.currency != attempt.currency
    ):
        problem = (
            f"Completed for {event.amount_minor} {event.currency} where the agreed price is "
            f"{attempt.gross_monthly_minor} {attempt.currency}."
        )
    current = (
        Subscription.objects.filter(user=attempt.user, cancel_at__isnull=True)
        .exclude(gateway="")
        .exclude(gateway=gateway, gateway_id=event.gateway_subscription_id)
        .first()
        if not problem
        else None
    )
    if current is not None:
        # Two checkouts paid (two tabs): the first one counts; the second is stopped at its
        # gateway so the user is not charged twice, and staff refund its first payment.
        attempt.status = CheckoutAttempt.Status.REFUSED
        attempt.gateway_subscription_id = event.gateway_subscription_id
        attempt.save(update_fields=["status", "gateway_subscription_id"])
        transaction.on_commit(lambda: _cancel_extra(gateway, event.gateway_subscription_id))
        return (
            Outcome.REFUSED,
            f"{attempt.user} already pays through {current.gateway} ({current.gateway_id}): "
            f"{event.gateway_subscription_id} cancelled; refund its first payment.",
        )
    if problem:
        # A completion that disagrees is left for staff; the attempt stays as it was, so
        # the genuine completion, if it comes, still activates it.
        return Outcome.REFUSED, problem
    subscription = subscription_activate(attempt=attempt, gateway_id=event.gateway_subscription_id)
    row.subscription = subscription
    row.save(update_fields=["subscription"])
    _early_payments(gateway, subscription)
    return Outcome.RECORDED, f"Subscribed to {attempt.description}."


def _cancel_extra(gateway: str, gateway_id: str) -> None:
    from billing.gateways import GatewayError, gateway_for

    try:
        gateway_for(gateway).cancel(
            gateway_id=gateway_id, idempotency_key=f"warren-extra-{gateway_id}"
        )
    except GatewayError as error:
        logger.error("a second subscription %s at %s is still live: %s", gateway_id, gateway, error)


def _early_payments(gateway: str, subscription: Subscription) -> None:
    """Payments that arrived before the checkout's completion (gateways do not promise an
    order) were refused for an unknown subscription: now it is known, they pay."""
    from billing.gateways.paypal import KINDS as PAYPAL_KINDS
    from billing.gateways.stripe import KINDS as STRIPE_KINDS

    kinds = STRIPE_KINDS if gateway == "stripe" else PAYPAL_KINDS
    paid_types = [name for name, kind in kinds.items() if kind == "paid"]
    early = GatewayEvent.objects.filter(
        gateway=gateway,
        gateway_subscription_id=subscription.gateway_id,
        subscription__isnull=True,
        outcome=Outcome.REFUSED,
        kind__in=paid_types,
    ).order_by("occurred_at")
    for row in early:
        event = WebhookEvent(
            event_id=row.event_id,
            kind="paid",
            type=row.kind,
            gateway_subscription_id=row.gateway_subscription_id,
            occurred_at=row.occurred_at,
            amount_minor=row.amount_minor,
            currency=row.currency,
        )
        row.outcome, detail = _paid(subscription, event, row)
        row.subscription, row.detail = subscription, detail[:300]
        row.save(update_fields=["outcome", "subscription", "detail"])


# --- late payers -------------------------------------------------------------------------


def _free_plan() -> Plan:
    return Plan.objects.get(slug=DEFAULT_PLAN_SLUG)


def _limits_restore(subscription: Subscription) -> None:
    from billing.services import _apply_limits

    _apply_limits(
        user=subscription.user,
        plan=subscription.plan,
        limits=subscription.limits,
        note=subscription.description,
    )


def _limits_suspend(subscription: Subscription) -> None:
    from accounts.limits import LIMIT_FIELDS
    from billing.services import _apply_limits

    free = _free_plan()
    # The subscription row keeps what they bought, so a payment restores it at once.
    _apply_limits(
        user=subscription.user,
        plan=free,
        limits={f: getattr(free, f) for f in LIMIT_FIELDS},
        note="Unpaid",
    )


def _remind(subscription: Subscription, *, first: bool = False) -> None:
    url = settings.WARREN_SITE_URL.rstrip("/") + reverse("billing:payment_method")
    grace_ends = subscription.delinquent_since + datetime.timedelta(
        days=settings.WARREN_BILLING_GRACE_DAYS
    )
    send_mail(
        f"[{settings.WARREN_SITE_NAME}] Your payment did not go through",
        f"Hello {subscription.user.username},\n\n"
        f"We could not take the payment for {subscription.description}.\n"
        f"Please update your payment method: {url}\n\n"
        f"Your plan's limits stay until {grace_ends:%d %B %Y}; after that your account uses "
        "the free plan's limits until the payment goes through (nothing is deleted).\n",
        None,
        [subscription.user.email],
    )


def delinquency_process(*, now: datetime.datetime | None = None) -> dict:
    """Send due reminders, move late payers past the grace period to free limits, and end
    cancelled subscriptions whose paid period is over; returns what it did."""
    now = now or timezone.now()
    done = {"reminded": 0, "suspended": 0, "ended": 0}
    schedule = settings.WARREN_BILLING_DUNNING_DAYS
    late = Subscription.objects.filter(delinquent_since__isnull=False).select_related("user")
    for subscription in late:
        n = subscription.delinquent_reminders
        due = n < len(schedule) and now >= subscription.delinquent_since + datetime.timedelta(
            days=schedule[n]
        )
        # Claimed by a conditional update: two beat runs never send the same reminder.
        if due and Subscription.objects.filter(
            pk=subscription.pk, delinquent_reminders=n, delinquent_since__isnull=False
        ).update(delinquent_reminders=F("delinquent_reminders") + 1):
            _remind(subscription)
            done["reminded"] += 1
        grace = datetime.timedelta(days=settings.WARREN_BILLING_GRACE_DAYS)
        if not subscription.suspended and now >= subscription.delinquent_since + grace:
            with transaction.atomic():
                claimed = Subscription.objects.filter(
                    pk=subscription.pk, suspended=False, delinquent_since__isnull=False
                ).update(suspended=True)
                if claimed:
                    _limits_suspend(subscription)
                    done["suspended"] += 1
    ended = Subscription.objects.filter(
        Q(cancel_at__lte=timezone.localdate(now)), net_monthly_minor__gt=0
    ).select_related("user")
    for subscription in ended:
        _subscription_end(subscription)
        done["ended"] += 1
    return done


def _subscription_end(subscription: Subscription) -> None:
    from billing.services import subscription_end

    subscription_end(user=subscription.user)
