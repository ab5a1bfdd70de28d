"""Billing's background work: VIES re-checks, invoices falling due, reminders.

Each takes ids (or nothing), is idempotent and acks_late; the periodic ones claim their work
with conditional updates or row locks, so two runs at once do each thing once.
"""

import logging
import random

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=48)
def recheck_vat_number(self, profile_id: int) -> None:
    """Ask VIES again about a VAT number it could not confirm (VAT is charged meanwhile)."""
    from billing.services import vat_number_recheck
    from billing.vatnumbers import ViesUnavailable

    try:
        vat_number_recheck(profile_id=profile_id)
    except ViesUnavailable as error:
        if self.request.is_eager:
            # No queue to hold a retry: the number stays unverified (and VAT charged).
            logger.warning("VIES still unavailable for profile %s: %s", profile_id, error)
            return
        countdown = min(3600, 60 * 2**self.request.retries) * random.uniform(0.8, 1.2)  # noqa: S311
        raise self.retry(exc=error, countdown=countdown) from error


@shared_task(acks_late=True)
def issue_due_invoices() -> int:
    """Issue the invoices whose date has come."""
    from billing.invoicing import issue_due_invoices as issue

    return issue(today=timezone.localdate())


@shared_task(acks_late=True)
def send_reminders() -> int:
    """Email paying users ahead of their next invoice, at the rate that will apply then."""
    from billing.reminders import reminders_send

    return reminders_send(today=timezone.localdate())


@shared_task(acks_late=True)
def reconcile_subscriptions() -> int | None:
    """The nightly VAT reconciliation at Stripe and PayPal; returns the run's id."""
    from billing.reconcile import reconciliation_run

    run = reconciliation_run()
    return run.pk if run else None


@shared_task(acks_late=True)
def process_late_payers() -> dict:
    """Reminders to late payers, free limits after the grace period, cancellations ending."""
    from billing.payments import delinquency_process

    return delinquency_process()
