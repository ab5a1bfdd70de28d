"""Invoices: issued when a subscription's invoice date comes, numbered without gaps, never
changed afterwards (a correction is a credit note, numbered in the same sequence).

The VAT on an invoice is decided on its own date from the buyer's billing profile at that
moment, so a rate that changed since they subscribed is the one charged (the seed's VATMESS).
"""

import calendar
import datetime

from django.conf import settings
from django.db import transaction

from billing.models import BillingProfile, Invoice, InvoiceCounter, Subscription
from billing.vat import decide, split
from config.errors import AppError


def add_month(day: datetime.date) -> datetime.date:
    """The same day next month, or that month's last day (31 January -> 28/29 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _take_number() -> int:
    # The counter row is locked until the invoice's transaction commits: a concurrent issuer
    # waits, then takes the next number. A rollback gives the number back (no gap).
    counter = InvoiceCounter.objects.select_for_update().get(pk=1)
    number = counter.next_number
    counter.next_number = number + 1
    counter.save(update_fields=["next_number"])
    return number


@transaction.atomic
def invoice_issue(*, subscription_id: int, today: datetime.date) -> Invoice | None:
    """Invoice the subscription's period starting on its invoice date, if that has come."""
    # of=("self",): lock the subscription row only; PostgreSQL refuses FOR UPDATE on the
    # nullable side of the outer join that evidence (optional) brings.
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("user", "evidence")
        .filter(pk=subscription_id)
        .first()
    )
    if subscription is None or not subscription.is_paid:
        return None
    due = subscription.next_invoice_date
    if due is None or due > today:
        return None
    profile = BillingProfile.objects.get(user=subscription.user)
    decision = decide(
        country=profile.country, confirmed_business=profile.is_confirmed_business, day=due
    )
    net = subscription.net_monthly_minor
    vat_minor, gross = split(net, decision)
    following = add_month(due)
    invoice = Invoice.objects.create(
        number=_take_number(),
        user=subscription.user,
        issued_on=today,
        period_start=due,
        period_end=following - datetime.timedelta(days=1),
        description=subscription.description,
        seller=settings.WARREN_BILLING_SELLER,
        buyer_name=profile.name,
        buyer_address=profile.address,
        buyer_country=profile.country,
        buyer_vat_number=profile.vat_number if decision.reverse_charge else "",
        currency=subscription.currency,
        net_minor=net,
        vat_country=decision.country,
        vat_rate=decision.rate,
        vat_minor=vat_minor,
        gross_minor=gross,
        reverse_charge=decision.reverse_charge,
        vat_note=decision.note,
        evidence=subscription.evidence,
    )
    subscription.next_invoice_date = following
    subscription.save(update_fields=["next_invoice_date"])
    return invoice


def issue_due_invoices(*, today: datetime.date) -> int:
    """Issue every invoice that has fallen due (each in its own transaction); returns how many."""
    issued = 0
    due = Subscription.objects.filter(net_monthly_minor__gt=0, next_invoice_date__lte=today)
    for subscription_id in due.values_list("pk", flat=True):
        # A subscription many months behind (a worker down for long) catches up one by one.
        while invoice_issue(subscription_id=subscription_id, today=today) is not None:
            issued += 1
    return issued


@transaction.atomic
def credit_note_issue(*, invoice: Invoice, today: datetime.date) -> Invoice:
    """Cancel ``invoice`` with a credit note: the same lines, negated, under a new number."""
    if invoice.kind != Invoice.Kind.INVOICE:
        raise AppError("Only an invoice can be credited, not a credit note.")
    if Invoice.objects.filter(credits=invoice).exists():
        raise AppError(f"Invoice {invoice.display_number} has already been credited.")
    fields = {
        f.name: getattr(invoice, f.name)
        for f in Invoice._meta.concrete_fields
        if f.name not in ("id", "number", "kind", "credits", "issued_on", "created_at")
    }
    for amount in ("net_minor", "vat_minor", "gross_minor"):
        fields[amount] = -fields[amount]
    fields["description"] = f"Credit for invoice {invoice.display_number}: {invoice.description}"
    return Invoice.objects.create(
        number=_take_number(),
        kind=Invoice.Kind.CREDIT_NOTE,
        credits=invoice,
        issued_on=today,
        **fields,
    )
