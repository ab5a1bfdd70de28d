"""The nightly VAT reconciliation: the seed's ``reconcile_subscription``, for every subscription
a gateway collects, against the VAT rate in force on its next invoice date.

Per subscription (the seed's order): the next invoice date from Warren, the next charge date
and gross amount from the gateway; no further invoice or charge -> cancelled, skip; next charge
before the next invoice -> between invoicing and charging (charges come a day after the invoice
date, late payers days later), skip; amount right -> nothing; otherwise the gateway is told
net x (1 + rate on the next invoice date). PayPal refuses changes close to a payment: those are
deferred to the next run and listed with the amount to refund or collect.

Efficiency: each gateway's list is read page by page and matched to Warren's rows a page at a
time (memory flat in the number of subscriptions, one read per page when nothing changed);
only the few that need a change are written. Correct subscriptions are counted, not recorded.
"""

import datetime
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.conf import settings
from django.utils import timezone

from billing.gateways import (
    ChangeRefused,
    Charge,
    Gateway,
    GatewayError,
    configured_gateways,
    gateway_for,
)
from billing.models import BillingProfile, ReconciliationAction, ReconciliationRun, Subscription
from billing.vat import NoVatRate, VatDecision, decide, split
from config.locks import cache_lock

logger = logging.getLogger(__name__)
Outcome = ReconciliationAction.Outcome
LOCK_KEY = "billing:reconcile"
BATCH = 500
COUNTS = ("checked", "correct", "updated", "deferred", "skipped", "failed")


@dataclass
class Verdict:
    outcome: str  # an Outcome, or "correct"
    reason: str = ""
    decision: VatDecision | None = None
    expected_gross: int | None = None


def reconciliation_run(
    *,
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
    nerfed: bool | None = None,
    gateways: dict[str, Gateway] | None = None,
) -> ReconciliationRun | None:
    """Reconcile every gateway subscription; None if another run holds the lock."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    nerfed = settings.WARREN_RECONCILE_NERFED if nerfed is None else nerfed
    with cache_lock(LOCK_KEY, timeout=settings.WARREN_RECONCILE_LOCK_SECONDS) as held:
        if not held:
            logger.info("reconciliation already running: this one stands down")
            return None
        # A run still "running" without the lock was stopped with its worker: say so. Its
        # writes were each complete at the gateway (one call per subscription), and this run
        # reads every amount again, so whatever it left undone is done now.
        ReconciliationRun.objects.filter(status=ReconciliationRun.Status.RUNNING).update(
            status=ReconciliationRun.Status.INTERRUPTED
        )
        run = ReconciliationRun.objects.create(today=today, nerfed=nerfed)
        if gateways is None:
            gateways = {name: gateway_for(name) for name in configured_gateways()}
        for name, gateway in gateways.items():
            _reconcile_gateway(run, name, gateway, today=today, now=now)
        run.status = ReconciliationRun.Status.FINISHED
        run.finished_at = timezone.now()
        run.save()
        return run


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _reconcile_gateway(run, name, gateway, *, today, now) -> None:
    calls_before = gateway.calls
    decisions: dict = {}
    try:
        for batch in _batches(gateway.charges(), BATCH):
            ids = [charge.gateway_id for charge in batch]
            ours = {
                s.gateway_id: s
                for s in Subscription.objects.filter(
                    gateway=name, gateway_id__in=ids
                ).select_related("user__billing_profile")
            }
            actions = [
                _reconcile_one(
                    run,
                    name,
                    gateway,
                    charge,
                    ours.get(charge.gateway_id),
                    decisions,
                    today=today,
                    now=now,
                )
                for charge in batch
            ]
            ReconciliationAction.objects.bulk_create([a for a in actions if a is not None])
            run.gateway_calls += gateway.calls - calls_before
            calls_before = gateway.calls
            run.save()  # progress shows in the admin while a long run goes on
    except GatewayError as error:
        # The rest of this gateway's list waits for the next run; nothing is half-written.
        logger.warning("reconciliation: %s list failed: %s", name, error)
        run.failed += 1
        ReconciliationAction.objects.create(
            run=run,
            gateway=name,
            gateway_id="(list)",
            outcome=Outcome.FAILED,
            reason=str(error)[:300],
        )
    run.gateway_calls += gateway.calls - calls_before
    run.save()


def _reconcile_one(run, name, gateway, charge: Charge, subscription, decisions, *, today, now):
    run.checked += 1
    verdict = judge(
        charge=charge,
        subscription=subscription,
        today=today,
        now=now,
        window_hours=gateway.change_window_hours(),
        decisions=decisions,
    )
    if verdict.outcome == Outcome.UPDATED:
        if run.nerfed:
            verdict.outcome = Outcome.WOULD_UPDATE
        else:
            verdict = _write(run, gateway, charge, subscription, verdict)
    counter = {
        "correct": "correct",
        Outcome.UPDATED: "updated",
        Outcome.WOULD_UPDATE: "updated",
        Outcome.DEFERRED: "deferred",
        Outcome.SKIPPED: "skipped",
        Outcome.FAILED: "failed",
    }[verdict.outcome]
    setattr(run, counter, getattr(run, counter) + 1)
    if verdict.outcome == "correct":
        return None
    return ReconciliationAction(
        run=run,
        subscription=subscription,
        gateway=name,
        gateway_id=charge.gateway_id,
        outcome=verdict.outcome,
        reason=verdict.reason[:300],
        next_invoice_date=subscription.next_invoice_date if subscription else None,
        next_charge_date=charge.next_charge_date,
        net_minor=subscription.net_monthly_minor if subscription else None,
        vat_rate=verdict.decision.rate if verdict.decision else None,
        gateway_gross_minor=charge.gross_minor,
        expected_gross_minor=verdict.expected_gross,
        currency=charge.currency,
    )


def _decision(subscription, day, decisions) -> VatDecision:
    profile = subscription.user.billing_profile
    key = (profile.country, profile.is_confirmed_business, day)
    if key not in decisions:
        decisions[key] = decide(
            country=profile.country, confirmed_business=profile.is_confirmed_business, day=day
        )
    return decisions[key]


def judge(*, charge, subscription, today, now, window_hours, decisions=None) -> Verdict:
    """The seed's reconcile_subscription, deciding only (no writes): what should happen."""
    decisions = {} if decisions is None else decisions
    if subscription is None:
        return Verdict(Outcome.SKIPPED, "Not a subscription Warren knows (left alone).")
    next_invoice = subscription.next_invoice_date
    if (
        not charge.active
        or next_invoice is None
        or next_invoice < today
        or not subscription.is_paid
    ):
        return Verdict(Outcome.SKIPPED, "Cancelled: no further invoice or charge.")
    if charge.next_charge_date is None or charge.next_charge_date < next_invoice:
        return Verdict(
            Outcome.SKIPPED,
            "Between invoicing and charging (or a late payer): the amount of the invoice "
            "already issued is being collected.",
        )
    try:
        decision = _decision(subscription, next_invoice, decisions)
    except NoVatRate as error:
        return Verdict(Outcome.FAILED, f"Cannot decide the VAT: {error}")
    except BillingProfile.DoesNotExist:
        return Verdict(Outcome.FAILED, "No billing profile: cannot decide the VAT.")
    _, gross = split(subscription.net_monthly_minor, decision)
    if charge.currency != subscription.currency:
        return Verdict(
            Outcome.FAILED,
            f"The gateway charges in {charge.currency}, Warren bills in {subscription.currency}: "
            "left for staff.",
            decision,
            gross,
        )
    if charge.gross_minor == gross:
        return Verdict("correct", decision=decision, expected_gross=gross)
    if window_hours:
        charge_at = datetime.datetime.combine(
            charge.next_charge_date, datetime.time(0), tzinfo=datetime.UTC
        )
        if charge_at - now < datetime.timedelta(hours=window_hours):
            return Verdict(
                Outcome.DEFERRED,
                f"Within {window_hours} hours of the charge on {charge.next_charge_date}: "
                "charged at the old amount; retried after it.",
                decision,
                gross,
            )
    return Verdict(Outcome.UPDATED, f"VAT {decision.rate}% on {next_invoice}", decision, gross)


def _write(run, gateway, charge, subscription, verdict) -> Verdict:
    try:
        gateway.amount_set(
            gateway_id=charge.gateway_id,
            net_minor=subscription.net_monthly_minor,
            vat_rate=verdict.decision.rate if verdict.decision.charged else 0,
            gross_minor=verdict.expected_gross,
            currency=subscription.currency,
            # One key per run and change: a retried request is a replay, never a second write.
            idempotency_key=f"warren-reconcile-{run.pk}-{charge.gateway_id}-{verdict.expected_gross}",
        )
    except ChangeRefused as error:
        verdict.outcome, verdict.reason = Outcome.DEFERRED, f"Refused for now: {error}"
    except GatewayError as error:
        logger.warning("reconciliation: %s %s failed: %s", gateway.name, charge.gateway_id, error)
        verdict.outcome, verdict.reason = Outcome.FAILED, f"{error} (retried next run)"
    return verdict
