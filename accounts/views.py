from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.shortcuts import render

from accounts.dashboard import cards_for
from accounts.limits import effective_limits
from accounts.selectors import public_plans


def dashboard(request):
    return render(request, "accounts/dashboard.html", {"cards": cards_for(request)})


def account(request):
    user = request.user
    mfa_types = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    context = {
        "limits": effective_limits(user),
        "plans": public_plans(),
        "emails": EmailAddress.objects.filter(user=user).order_by("-primary", "email"),
        "totp_enabled": Authenticator.Type.TOTP in mfa_types,
        "recovery_codes_enabled": Authenticator.Type.RECOVERY_CODES in mfa_types,
        "cards": cards_for(request, "WARREN_ACCOUNT_CARDS"),
    }
    return render(request, "accounts/account.html", context)
