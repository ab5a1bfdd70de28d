"""The Billing card on the Account tab (listed in WARREN_ACCOUNT_CARDS)."""

from accounts.dashboard import Card
from billing.models import BillingProfile, Subscription
from billing.pricing import format_money


def billing_card(request) -> Card:
    user = request.user
    subscription = Subscription.objects.filter(user=user).first()
    price = (
        format_money(subscription.net_monthly_minor, subscription.currency)
        if subscription and subscription.is_paid
        else ""
    )
    context = {
        "subscription": subscription,
        "price": price,
        "profile": BillingProfile.objects.filter(user=user).first(),
    }
    return Card("billing/cards/billing.html", context)


def delinquent_card(request) -> Card | None:
    """A wide banner on the Dashboard while a payment is failing (listed first)."""
    subscription = (
        Subscription.objects.filter(user=request.user, delinquent_since__isnull=False)
        .only("delinquent_since", "suspended", "description")
        .first()
    )
    if subscription is None:
        return None
    return Card("billing/cards/delinquent.html", {"subscription": subscription}, wide=True)
