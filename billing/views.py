"""The billing pages: parse, call one service, answer (plans, price, address, invoices)."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.limits import effective_limits
from accounts.models import Plan
from accounts.selectors import public_plans
from billing import services
from billing.forms import AddressForm, BuilderForm, QuotedPriceForm
from billing.models import BillingProfile, CheckoutAttempt, Invoice, Subscription
from billing.pdf import invoice_pdf
from config.errors import AppError
from webapps.models import WebApp

logger = logging.getLogger(__name__)


def _plans_context(request, builder=None, error=""):
    user = request.user
    limits = effective_limits(user)
    builder = builder or BuilderForm(initial=BuilderForm.initial_for(limits))
    plans = [
        (plan, services.price_quote(user=user, net_minor=plan.monthly_price_minor))
        for plan in public_plans()
    ]
    return {
        "limits": limits,
        "plans": plans,
        "builder": builder,
        "quote": _builder_quote(user, builder if builder.is_bound else _bound_initial(builder)),
        "profile": BillingProfile.objects.filter(user=user).first(),
        "subscription": Subscription.objects.filter(user=user).first(),
        "error": error,
        "gateways": _gateway_choices(user),
    }


def _gateway_choices(user) -> list[tuple[str, str]]:
    """How a paid plan can be paid for, when buying it goes through a gateway."""
    from billing.gateways import checkout_gateways

    if not services.checkout_needed(user=user, net_minor=1):
        return []
    labels = {"stripe": "Card (Stripe)", "paypal": "PayPal"}
    return [(name, labels[name]) for name in checkout_gateways()]


def _bound_initial(builder) -> BuilderForm:
    # An unchecked box is absent from a form's data, so False switches are left out.
    data = {name: value for name, value in builder.initial.items() if value is not False}
    return BuilderForm(data=data)


def _builder_quote(user, builder):
    if not builder.is_valid():
        return None
    net = services.net_price(choice=builder.choice())
    return services.price_quote(user=user, net_minor=net)


@require_GET
def plans(request):
    return render(request, "billing/plans.html", _plans_context(request))


@require_GET
def price(request):
    """htmx: the builder's price for the sliders' current positions."""
    builder = BuilderForm(data=request.GET)
    context = {"builder": builder, "quote": _builder_quote(request.user, builder)}
    return render(request, "billing/_price.html", context)


@require_POST
def change(request):
    """Choose a public plan (``plan``) or the builder's limits, at the price shown."""
    user = request.user
    plan, builder = None, None
    if request.POST.get("plan"):
        plan = Plan.objects.filter(slug=request.POST["plan"], is_public=True).first()
        if plan is None:
            return _plans_error(request, "That plan is not on offer.")
    else:
        builder = BuilderForm(data=request.POST)
        if not builder.is_valid():
            context = _plans_context(request, builder, "Check the highlighted values.")
            return render(request, "billing/plans.html", context, status=400)
    web_apps = list(WebApp.objects.filter(user=user).order_by("domain"))
    quoted = QuotedPriceForm(data=request.POST, web_apps=web_apps)
    if not quoted.is_valid():
        return _plans_error(request, "The price was missing or altered: nothing was changed.")
    keep = quoted.cleaned_data["keep"]
    net = services.net_price(plan=plan, choice=builder.choice() if builder else None)
    try:
        if services.checkout_needed(user=user, net_minor=net):
            _attempt, url = services.checkout_start(
                user=user,
                ip_address=request.META.get("REMOTE_ADDR", ""),
                quoted_net_minor=quoted.cleaned_data["quoted_net_minor"],
                gateway=request.POST.get("gateway") or _gateway_choices(user)[0][0],
                site_url=request.build_absolute_uri("/"),
                plan=plan,
                choice=builder.choice() if builder else None,
                keep_web_app_ids=keep if quoted.cleaned_data["confirmed"] else None,
            )
            return redirect(url)
        subscription = services.subscription_change(
            user=user,
            ip_address=request.META.get("REMOTE_ADDR", ""),
            quoted_net_minor=quoted.cleaned_data["quoted_net_minor"],
            plan=plan,
            choice=builder.choice() if builder else None,
            keep_web_app_ids=keep if quoted.cleaned_data["confirmed"] else None,
        )
    except services.EvidenceRefused as refused:
        context = {"evidence": refused.evidence}
        return render(request, "billing/refused.html", context, status=403)
    except services.ChoiceNeeded as needed:
        context = {
            "overages": needed.overages,
            "web_apps": web_apps,
            "over_web_apps": any(o.field == "max_web_apps" for o in needed.overages),
            "post": request.POST,
            "name": plan.name if plan else builder.choice().describe(),
        }
        return render(request, "billing/confirm_downgrade.html", context, status=409)
    except AppError as error:
        context = _plans_context(request, error=error.message)
        return render(request, "billing/plans.html", context, status=error.status)
    except ValidationError as error:
        return _plans_error(request, " ".join(error.messages))
    if subscription.cancel_at:
        messages.success(request, _cancelled_message(subscription))
    else:
        messages.success(request, "Your plan has changed.")
    return redirect("billing:plans")


def _cancelled_message(subscription) -> str:
    return (
        f"Cancelled: nothing more will be charged. Your {subscription.description} limits stay "
        f"until {subscription.cancel_at:%-d %B %Y}, then the free plan's."
    )


def _plans_error(request, error: str):
    return render(request, "billing/plans.html", _plans_context(request, error=error), status=400)


def address(request):
    profile = BillingProfile.objects.filter(user=request.user).first()
    if request.method != "POST":
        initial = {}
        if profile:
            initial = {
                "name": profile.name,
                "address": profile.address,
                "country": profile.country,
                "vat_number": profile.vat_number,
            }
        form = AddressForm(initial=initial)
        return render(request, "billing/address.html", {"form": form, "profile": profile})
    form = AddressForm(data=request.POST)
    if form.is_valid():
        try:
            services.billing_profile_save(user=request.user, **form.cleaned_data)
        except AppError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, "Billing address saved.")
            return redirect("billing:plans")
    return render(request, "billing/address.html", {"form": form, "profile": profile}, status=400)


@require_GET
def invoices(request):
    rows = Invoice.objects.filter(user=request.user).order_by("-number")
    return render(request, "billing/invoices.html", {"invoices": rows})


def _own_invoice(request, number: int) -> Invoice:
    # Someone else's invoice is "not found", never "forbidden": numbers are guessable.
    return get_object_or_404(
        Invoice.objects.select_related("credits"), number=number, user=request.user
    )


@require_GET
def invoice(request, number: int):
    return render(request, "billing/invoice.html", {"invoice": _own_invoice(request, number)})


@require_GET
def invoice_download(request, number: int):
    found = _own_invoice(request, number)
    response = HttpResponse(invoice_pdf(found), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="invoice-{found.display_number}.pdf"'
    return response


# --- Billing II: webhooks and the payment method ---------------------------------------------


def _webhook_answer(gateway: str, parse) -> HttpResponse:
    from billing.gateways import BadSignature, GatewayError
    from billing.payments import gateway_event_record

    try:
        event = parse()
    except BadSignature as error:
        logger.warning("%s webhook refused: bad signature (%s)", gateway, error)
        return HttpResponse("bad signature", status=400, content_type="text/plain")
    except GatewayError as error:
        # PayPal could not be asked to verify: 503 so it delivers the event again later.
        logger.warning("%s webhook not verified now: %s", gateway, error)
        return HttpResponse("try again later", status=503, content_type="text/plain")
    except (KeyError, TypeError, ValueError) as error:
        logger.warning("%s webhook refused: malformed (%r)", gateway, error)
        return HttpResponse("malformed event", status=400, content_type="text/plain")
    row = gateway_event_record(gateway=gateway, event=event)
    # 200 whatever Warren made of it (refusals are logged and listed for staff): a gateway
    # retries anything else for days, and a retry would change nothing.
    return HttpResponse(row.outcome, content_type="text/plain")


@login_not_required
@csrf_exempt
@require_POST
def stripe_webhook(request):
    from django.conf import settings

    from billing.gateways.stripe import webhook_parse

    return _webhook_answer(
        "stripe",
        lambda: webhook_parse(
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
            secret=settings.WARREN_STRIPE_WEBHOOK_SECRET,
        ),
    )


@login_not_required
@csrf_exempt
@require_POST
def paypal_webhook(request):
    from billing.gateways import gateway_for

    return _webhook_answer(
        "paypal",
        lambda: gateway_for("paypal").webhook_parse(payload=request.body, headers=request.headers),
    )


@require_GET
def payment_method(request):
    """Where a late payer fixes their card: the gateway's own page."""
    subscription = get_object_or_404(
        Subscription, user=request.user, gateway__in=["stripe", "paypal"]
    )
    try:
        url = services.payment_method_url(
            subscription=subscription, return_url=request.build_absolute_uri("/")
        )
    except AppError as error:
        messages.error(request, error.message)
        return redirect("billing:plans")
    return redirect(url)


# --- Billing II: subscribing at the gateways -------------------------------------------------


@require_GET
def checkout(request, token):
    """Where the gateway sends the user back: waiting for its confirmation, then the plan."""
    # Someone else's checkout is "not found": the token is in the gateway's return URL.
    attempt = get_object_or_404(CheckoutAttempt, token=token, user=request.user)
    context = {
        "attempt": attempt,
        "cancelled": "cancelled" in request.GET,
        "limits": effective_limits(request.user),
        "waiting": attempt.status == CheckoutAttempt.Status.OPEN and "cancelled" not in request.GET,
    }
    return render(request, "billing/checkout.html", context)


@require_POST
def cancel(request):
    """Cancel the subscription a gateway collects: paid limits to the period's end."""
    try:
        subscription = services.subscription_cancel(user=request.user)
    except AppError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        messages.error(request, error.message)
    else:
        messages.success(request, _cancelled_message(subscription))
    return redirect("account")
