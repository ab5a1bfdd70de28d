"""Writes about billing: the billing address, and changing plan (the one way limits are sold).

Views parse and call these; each owns its transaction, and anything outside the database
(limit hooks, invoices falling due, VIES re-checks) goes out on commit.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.limits import LIMIT_FIELDS
from accounts.models import CustomLimits, Plan, User
from billing import geoip, invoicing, tasks
from billing.countries import COUNTRIES
from billing.downgrade import Overage, overages
from billing.evidence import judge
from billing.models import BillingProfile, CheckoutAttempt, Evidence, PlanChange, Subscription
from billing.pricing import CustomChoice, current_unit_prices, custom_monthly_net_minor
from billing.vat import VatDecision, decide, split
from billing.vatnumbers import ViesUnavailable, clean_vat_number, vies
from config.errors import AppError
from webapps.models import WebApp

logger = logging.getLogger(__name__)
Status = BillingProfile.VatNumberStatus


class EvidenceRefused(Exception):
    """The two pieces of location evidence disagree: the subscription cannot be set up."""

    def __init__(self, evidence: Evidence):
        super().__init__(evidence.reason)
        self.evidence = evidence


class ChoiceNeeded(Exception):
    """A downgrade leaves the user over a limit: they must see what happens, and pick apps."""

    def __init__(self, found: list[Overage]):
        super().__init__("; ".join(o.problem for o in found))
        self.overages = found


# --- the billing address -------------------------------------------------------------------


@transaction.atomic
def billing_profile_save(
    *, user: User, name: str, address: str, country: str, vat_number: str
) -> BillingProfile:
    """Save who is billed; a VAT number is checked (digits, then VIES) before it counts."""
    name, country = name.strip(), country.strip().upper()
    if not name:
        raise AppError("Enter the name to put on invoices.", field="name")
    if country not in COUNTRIES:
        raise AppError("Choose the country of your billing address.", field="country")
    try:
        number = clean_vat_number(vat_number, country=country)
    except ValidationError as error:
        raise AppError(" ".join(error.messages), field="vat_number") from None
    profile = BillingProfile.objects.filter(user=user).first() or BillingProfile(user=user)
    unchanged = number == profile.vat_number and profile.vat_number_status == Status.VALID
    profile.name, profile.address, profile.country = name, address.strip(), country
    if not unchanged:
        profile.vat_number = number
        profile.vat_number_status = _vies_status(number) if number else Status.NONE
        profile.vat_number_checked_at = timezone.now() if number else None
    profile.save()
    if profile.vat_number_status == Status.UNVERIFIED:
        transaction.on_commit(lambda: tasks.recheck_vat_number.delay(profile.pk))
    return profile


def _vies_status(number: str) -> str:
    try:
        answer = vies().check(number)
    except ViesUnavailable as error:
        logger.warning(
            "VIES unavailable for %s (%s): VAT is charged until it confirms", number, error
        )
        return Status.UNVERIFIED
    if not answer.valid:
        raise AppError(
            f"VIES, the EU's register, says {number} is not a registered number.",
            field="vat_number",
        )
    return Status.VALID


def vat_number_recheck(*, profile_id: int) -> str:
    """Ask VIES again about a number it could not confirm; raises ViesUnavailable if still down."""
    profile = BillingProfile.objects.filter(pk=profile_id).first()
    if profile is None or profile.vat_number_status != Status.UNVERIFIED:
        return profile.vat_number_status if profile else ""
    answer = vies().check(profile.vat_number)
    profile.vat_number_status = Status.VALID if answer.valid else Status.INVALID
    profile.vat_number_checked_at = timezone.now()
    profile.save(update_fields=["vat_number_status", "vat_number_checked_at", "updated_at"])
    return profile.vat_number_status


# --- prices --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    net_minor: int
    vat_minor: int
    gross_minor: int
    currency: str
    decision: VatDecision | None  # None: no billing address yet, so "plus VAT where applicable"


def net_price(*, plan: Plan | None = None, choice: CustomChoice | None = None) -> int:
    """The net monthly price of a fixed plan or of custom limits."""
    if plan is not None:
        return plan.monthly_price_minor
    return custom_monthly_net_minor(choice, current_unit_prices())


def price_quote(*, user: User, net_minor: int, day: datetime.date | None = None) -> Quote:
    """Net, VAT at the rate in force on ``day`` for the user's billing country, and gross."""
    day = day or timezone.localdate()
    profile = BillingProfile.objects.filter(user=user).first()
    currency = settings.WARREN_BILLING_CURRENCY
    if profile is None:
        return Quote(net_minor, 0, net_minor, currency, None)
    decision = decide(
        country=profile.country, confirmed_business=profile.is_confirmed_business, day=day
    )
    vat_minor, gross = split(net_minor, decision)
    return Quote(net_minor, vat_minor, gross, currency, decision)


# --- plan changes --------------------------------------------------------------------------


def subscription_change(
    *,
    user: User,
    ip_address: str,
    quoted_net_minor: int,
    plan: Plan | None = None,
    choice: CustomChoice | None = None,
    keep_web_app_ids: list[int] | None = None,
) -> Subscription:
    """Move the user to ``plan`` or custom ``choice`` at the price they were shown.

    Refuses a price that is not today's (a stale page or a tampered form), a paid plan without
    a billing address or with disagreeing evidence (recorded, and staff told), and a downgrade
    over a limit until the user has seen what happens and picked the web apps that stay on.
    A paid plan starts as a trial (no payment gateway here) and is invoiced when it ends.
    """
    if (plan is None) == (choice is None):
        raise TypeError("subscription_change: give a plan or a custom choice")
    net = net_price(plan=plan, choice=choice)
    if quoted_net_minor != net:
        raise AppError(
            "The price has changed since the page was shown (or the form was altered): "
            "nothing was changed. Check the new price and try again."
        )
    if net == 0 and _at_gateway(user) is not None:
        # The gateway collects until told otherwise: going free is cancelling there, and the
        # month already paid for keeps its limits (then subscription_end moves to free).
        return subscription_cancel(user=user)
    limits = _limits_of(plan, choice)
    evidence = _check_evidence(user, ip_address) if net > 0 else None
    keep = _check_downgrade(user, limits, keep_web_app_ids)
    return _record_change(
        user=user,
        plan=plan,
        limits=limits,
        description=plan.name if plan else choice.describe(),
        net=net,
        source=Subscription.Source.TRIAL if net > 0 else Subscription.Source.FREE,
        evidence=evidence,
        keep_web_app_ids=keep,
        changed_by=user,
    )


def subscription_grant(*, user: User, plan: Plan, staff: User) -> Subscription:
    """Staff give ``user`` a plan free of charge (no evidence, no invoices: nothing is sold)."""
    return _record_change(
        user=user,
        plan=plan,
        limits=_limits_of(plan, None),
        description=f"{plan.name} (granted)",
        net=0,
        source=Subscription.Source.STAFF,
        evidence=None,
        keep_web_app_ids=None,
        changed_by=staff,
    )


def _limits_of(plan: Plan | None, choice: CustomChoice | None) -> dict:
    if plan is not None:
        return {field: getattr(plan, field) for field in LIMIT_FIELDS}
    return choice.limits()


def _check_evidence(user: User, ip_address: str) -> Evidence:
    profile = BillingProfile.objects.filter(user=user).first()
    if profile is None:
        raise AppError("Enter your billing address before choosing a paid plan.")
    ip_country = geoip.country_of(ip_address)
    verdict = judge(
        billing_country=profile.country, ip_country=ip_country, day=timezone.localdate()
    )
    # Kept whatever the verdict: refused attempts are evidence too (and never deleted).
    evidence = Evidence.objects.create(
        user=user,
        username=user.username,
        billing_country=profile.country,
        ip_address=ip_address,
        geoip_country=ip_country,
        accepted=verdict.accepted,
        reason=verdict.reason,
    )
    if not verdict.accepted:
        _tell_staff_of_refusal(evidence, user)
        raise EvidenceRefused(evidence)
    return evidence


def _tell_staff_of_refusal(evidence: Evidence, user: User) -> None:
    recipients = settings.WARREN_BILLING_STAFF_EMAILS or list(
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        logger.warning("refused subscription of %s and no staff address to tell", user)
        return
    send_mail(
        f"[{settings.WARREN_SITE_NAME}] Subscription refused: {user.username} (location evidence)",
        f"{user.username} <{user.email}> tried to subscribe and was refused.\n\n"
        f"Billing address country: {evidence.billing_country}\n"
        f"IP address: {evidence.ip_address}\n"
        f"GeoIP country: {evidence.geoip_country or 'unknown'}\n"
        f"Reason: {evidence.reason}\n\n"
        "Get in touch with them to work something out (evidence #{evidence.pk}).",
        None,
        recipients,
    )


def _check_downgrade(user: User, limits: dict, keep_web_app_ids: list[int] | None):
    """None, or the web apps to keep on when the user has more than the new plan allows."""
    found = overages(user=user, limits=limits)
    if not found:
        return None
    if keep_web_app_ids is None:
        raise ChoiceNeeded(found)
    own = set(WebApp.objects.filter(user=user).values_list("pk", flat=True))
    keep = set(keep_web_app_ids)
    if not keep <= own:
        raise AppError("Choose among your own web apps.")
    allowed = limits["max_web_apps"]
    if len(own) <= allowed:
        return None
    if len(keep) > allowed:
        raise AppError(f"The new plan allows {allowed} web apps: keep at most that many on.")
    return sorted(keep)


@transaction.atomic
def _record_change(
    *, user, plan, limits, description, net, source, evidence, keep_web_app_ids, changed_by
) -> Subscription:
    user = User.objects.select_for_update().get(pk=user.pk)
    today = timezone.localdate()
    paid = net > 0
    trial_end = today + datetime.timedelta(days=settings.WARREN_BILLING_TRIAL_DAYS)
    current = Subscription.objects.filter(user=user).first()
    # Billing II: a paid plan collected by a gateway changes there (from its next invoice, no
    # proration) and keeps its invoice dates; no new trial.
    at_gateway = paid and current is not None and current.gateway and current.cancel_at is None
    subscription, _ = Subscription.objects.update_or_create(
        user=user,
        defaults={
            "plan": plan,
            "limits": limits,
            "description": description,
            "net_monthly_minor": net,
            "currency": settings.WARREN_BILLING_CURRENCY,
            "source": source,
            "evidence": evidence,
            "next_invoice_date": (
                current.next_invoice_date if at_gateway else trial_end if paid else None
            ),
            "reminded_for": None,
        },
    )
    if at_gateway:
        transaction.on_commit(lambda: subscription_gateway_amount_set(subscription=subscription))
    PlanChange.objects.create(
        user=user,
        description=description,
        limits=limits,
        net_monthly_minor=net,
        currency=settings.WARREN_BILLING_CURRENCY,
        source=source,
        changed_by=changed_by,
    )
    _apply_limits(user=user, plan=plan, limits=limits, note=description)
    if keep_web_app_ids is not None:
        _disable_web_apps_not_kept(user, keep_web_app_ids)
    if paid and trial_end <= today:
        transaction.on_commit(lambda: invoicing.issue_due_invoices(today=today))
    return subscription


def _apply_limits(*, user: User, plan: Plan | None, limits: dict, note: str) -> None:
    # The one place billing changes what a user may use: accounts' own writes send
    # accounts.signals.limits_changed (disk quota; the tarpit reads the limits each minute).
    if plan is not None:
        account_services.plan_change(user=user, plan=plan)
        if CustomLimits.objects.filter(user=user).exists():
            # Leaving custom limits sends the signal a second time; receivers are idempotent.
            account_services.custom_limits_clear(user=user)
    else:
        account_services.custom_limits_set(user=user, note=note[:200], **limits)


def _disable_web_apps_not_kept(user: User, keep_web_app_ids: list[int]) -> None:
    from webapps.services import webapp_set_enabled

    extra = WebApp.objects.filter(user=user, enabled=True).exclude(pk__in=keep_web_app_ids)
    for webapp in extra:
        # After commit: the web server is told only once the smaller plan is really in force.
        transaction.on_commit(
            lambda webapp=webapp: webapp_set_enabled(webapp=webapp, enabled=False)
        )
    extra.update(enabled=False)


# --- Billing II: gateways ------------------------------------------------------------------


def payment_method_url(*, subscription: Subscription, return_url: str) -> str:
    """The gateway's page where the user fixes how they pay."""
    from billing.gateways import GatewayError, gateway_for

    try:
        return gateway_for(subscription.gateway).payment_method_url(
            gateway_id=subscription.gateway_id, return_url=return_url
        )
    except GatewayError as error:
        logger.warning("payment method page for %s: %s", subscription.user, error)
        raise AppError(
            "The payment provider did not answer: try again in a few minutes.", status=503
        ) from None


def subscription_end(*, user: User) -> Subscription:
    """A cancelled subscription's paid period is over: the free plan, nothing deleted.

    Over the free plan's web app limit, the oldest web apps stay on (the user was told when
    cancelling, and can switch which ones on the Web tab).
    """
    from accounts.models import DEFAULT_PLAN_SLUG

    free = Plan.objects.get(slug=DEFAULT_PLAN_SLUG)
    limits = _limits_of(free, None)
    keep = list(
        WebApp.objects.filter(user=user, enabled=True)
        .order_by("pk")
        .values_list("pk", flat=True)[: limits["max_web_apps"]]
    )
    subscription = _record_change(
        user=user,
        plan=free,
        limits=limits,
        description=free.name,
        net=0,
        source=Subscription.Source.FREE,
        evidence=None,
        keep_web_app_ids=_check_downgrade(user, limits, keep),
        changed_by=None,
    )
    Subscription.objects.filter(pk=subscription.pk).update(
        gateway="", gateway_id="", cancel_at=None, delinquent_since=None, suspended=False
    )
    return subscription


def subscription_gateway_amount_set(*, subscription: Subscription) -> bool:
    """Tell the gateway the new amount (net plus the VAT of the next invoice date)."""
    from billing.gateways import GatewayError, gateway_for

    day = subscription.next_invoice_date or timezone.localdate()
    quote = price_quote(user=subscription.user, net_minor=subscription.net_monthly_minor, day=day)
    rate = quote.decision.rate if quote.decision and quote.decision.charged else 0
    try:
        gateway_for(subscription.gateway).amount_set(
            gateway_id=subscription.gateway_id,
            net_minor=quote.net_minor,
            vat_rate=rate,
            gross_minor=quote.gross_minor,
            currency=subscription.currency,
            idempotency_key=f"warren-plan-{subscription.pk}-{timezone.now().timestamp()}",
        )
    except GatewayError as error:
        # The nightly reconciliation compares every amount with net and VAT: it fixes this.
        logger.warning(
            "plan change of %s not yet at %s: %s", subscription.user, subscription.gateway, error
        )
        return False
    return True


# --- Billing II: subscribing and cancelling at the gateways ---------------------------------


def _at_gateway(user: User) -> Subscription | None:
    """The user's subscription if a gateway collects it and it is not cancelled."""
    return (
        Subscription.objects.filter(user=user, cancel_at__isnull=True).exclude(gateway="").first()
    )


def checkout_needed(*, user: User, net_minor: int) -> bool:
    """Whether buying this price sends the user to a gateway (a paid plan, a gateway set up,
    and no gateway already collecting from them: that one changes its amount instead)."""
    from billing.gateways import checkout_gateways

    return net_minor > 0 and bool(checkout_gateways()) and _at_gateway(user) is None


def checkout_start(
    *,
    user: User,
    ip_address: str,
    quoted_net_minor: int,
    gateway: str,
    site_url: str,
    plan: Plan | None = None,
    choice: CustomChoice | None = None,
    keep_web_app_ids: list[int] | None = None,
) -> tuple[CheckoutAttempt, str]:
    """Fix the plan, price and evidence, and open the gateway's payment page for them.

    The same refusals as ``subscription_change`` (price, address, evidence, downgrade); the
    attempt is written only once the gateway has answered, so a gateway that fails or times
    out leaves nothing behind but the evidence (kept whatever happens).
    """
    import uuid

    from django.urls import reverse

    from billing.gateways import GatewayError, checkout_gateways, gateway_for

    if (plan is None) == (choice is None):
        raise TypeError("checkout_start: give a plan or a custom choice")
    if gateway not in checkout_gateways():
        raise AppError("Choose how to pay.", field="gateway")
    net = net_price(plan=plan, choice=choice)
    if quoted_net_minor != net:
        raise AppError(
            "The price has changed since the page was shown (or the form was altered): "
            "nothing was changed. Check the new price and try again."
        )
    if net <= 0:
        raise AppError("A free plan needs no payment.")
    if _at_gateway(user) is not None:
        raise AppError("You already pay through a gateway: choose a plan to change it.")
    limits = _limits_of(plan, choice)
    evidence = _check_evidence(user, ip_address)
    keep = _check_downgrade(user, limits, keep_web_app_ids)
    quote = price_quote(user=user, net_minor=net)
    rate = quote.decision.rate if quote.decision and quote.decision.charged else 0
    description = plan.name if plan else choice.describe()
    token = uuid.uuid4()
    back = site_url.rstrip("/") + reverse("billing:checkout", args=[token])
    try:
        started = gateway_for(gateway).checkout_start(
            reference=str(token),
            email=user.email,
            description=f"{settings.WARREN_SITE_NAME}: {description}",
            net_minor=net,
            vat_rate=rate,
            gross_minor=quote.gross_minor,
            currency=quote.currency,
            success_url=back,
            cancel_url=back + "?cancelled=1",
            idempotency_key=f"warren-checkout-{token}",
        )
    except GatewayError as error:
        logger.warning("checkout of %s at %s: %s", user, gateway, error)
        raise AppError(
            "The payment provider did not answer: nothing was charged or changed. "
            "Try again in a few minutes.",
            status=503,
        ) from None
    attempt = CheckoutAttempt.objects.create(
        token=token,
        user=user,
        gateway=gateway,
        plan=plan,
        limits=limits,
        description=description,
        net_monthly_minor=net,
        vat_rate=rate,
        gross_monthly_minor=quote.gross_minor,
        currency=quote.currency,
        evidence=evidence,
        keep_web_app_ids=keep,
        session_id=started.session_id,
    )
    return attempt, started.url


def subscription_activate(*, attempt: CheckoutAttempt, gateway_id: str) -> Subscription:
    """The gateway confirmed ``attempt``: the plan it fixed is in force, collected there.

    Called by the webhook handler inside its transaction, with the attempt locked; the first
    invoice is due today (the gateway charged at checkout) and the payment webhook pays it.
    """
    user = attempt.user
    keep = attempt.keep_web_app_ids
    if keep is None:
        # Over a limit only if they added web apps while paying: the oldest stay on.
        keep = list(
            WebApp.objects.filter(user=user, enabled=True)
            .order_by("pk")
            .values_list("pk", flat=True)[: attempt.limits["max_web_apps"]]
        )
    subscription = _record_change(
        user=user,
        plan=attempt.plan,
        limits=attempt.limits,
        description=attempt.description,
        net=attempt.net_monthly_minor,
        source=Subscription.Source.GATEWAY,
        evidence=attempt.evidence,
        keep_web_app_ids=_check_downgrade(user, attempt.limits, keep),
        changed_by=user,
    )
    Subscription.objects.filter(pk=subscription.pk).update(
        gateway=attempt.gateway,
        gateway_id=gateway_id,
        next_invoice_date=timezone.localdate(),
        cancel_at=None,
        delinquent_since=None,
        delinquent_reminders=0,
        suspended=False,
    )
    attempt.status = CheckoutAttempt.Status.COMPLETED
    attempt.gateway_subscription_id = gateway_id
    attempt.completed_at = timezone.now()
    attempt.save(update_fields=["status", "gateway_subscription_id", "completed_at"])
    subscription.refresh_from_db()
    return subscription


def subscription_cancel(*, user: User) -> Subscription:
    """Stop the gateway charging; the paid limits stay until the period's end, then free."""
    from billing.gateways import GatewayError, gateway_for

    subscription = _at_gateway(user)
    if subscription is None:
        raise AppError("No subscription is being paid through a gateway.", status=404)
    try:
        gateway_for(subscription.gateway).cancel(
            gateway_id=subscription.gateway_id,
            idempotency_key=f"warren-cancel-{subscription.pk}-{subscription.gateway_id}",
        )
    except GatewayError as error:
        logger.warning("cancelling %s at %s: %s", user, subscription.gateway, error)
        raise AppError(
            "The payment provider did not answer: nothing was cancelled. "
            "Try again in a few minutes.",
            status=503,
        ) from None
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.cancel_at is None:
            # The same rule as the gateway's own cancellation webhook (payments._cancelled).
            subscription.cancel_at = subscription.next_invoice_date or timezone.localdate()
            subscription.next_invoice_date = None
            subscription.save(update_fields=["cancel_at", "next_invoice_date"])
    return subscription
