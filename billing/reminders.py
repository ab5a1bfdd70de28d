"""Billing reminders: the amount that will be charged on the next invoice date, at the VAT
rate in force on that date (not today's: the seed's "billing reminders for the right amount")."""

import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q

from billing.models import Subscription
from billing.pricing import format_money


def reminders_send(*, today: datetime.date) -> int:
    """Email each paying user whose invoice date is within the reminder window, once per date."""
    horizon = today + datetime.timedelta(days=settings.WARREN_BILLING_REMINDER_DAYS)
    due = (
        Subscription.objects.filter(
            net_monthly_minor__gt=0, next_invoice_date__gte=today, next_invoice_date__lte=horizon
        )
        .filter(Q(reminded_for__isnull=True) | ~Q(reminded_for=F("next_invoice_date")))
        .select_related("user")
    )
    sent = 0
    for subscription in due:
        # Claimed with a conditional update, so two beat runs never send the same reminder.
        claimed = (
            Subscription.objects.filter(pk=subscription.pk)
            .filter(Q(reminded_for__isnull=True) | ~Q(reminded_for=F("next_invoice_date")))
            .update(reminded_for=F("next_invoice_date"))
        )
        if claimed:
            _send(subscription)
            sent += 1
    return sent


def _send(subscription: Subscription) -> None:
    from billing.services import price_quote

    day = subscription.next_invoice_date
    quote = price_quote(user=subscription.user, net_minor=subscription.net_monthly_minor, day=day)
    money = lambda minor: format_money(minor, subscription.currency)  # noqa: E731
    if quote.decision is not None and quote.decision.charged:
        vat_line = (
            f"VAT ({quote.decision.rate}% for {quote.decision.country}): {money(quote.vat_minor)}"
        )
    elif quote.decision is not None and quote.decision.reverse_charge:
        vat_line = "VAT: reverse charge (you account for it)"
    else:
        vat_line = "VAT: not charged"
    send_mail(
        f"[{settings.WARREN_SITE_NAME}] Your invoice of {day:%d %B %Y}",
        f"Hello {subscription.user.username},\n\n"
        f"On {day:%d %B %Y} you will be invoiced for {subscription.description}:\n\n"
        f"Net: {money(quote.net_minor)}\n{vat_line}\nTotal: {money(quote.gross_minor)}\n\n"
        "The VAT is at the rate in force on that date.\n",
        None,
        [subscription.user.email],
    )
