from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from allauth.account.utils import perform_login
from allauth.account.views import ConfirmEmailView as AllauthConfirmEmailView
from allauth.mfa.models import Authenticator
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.templatetags.static import static

from accounts.adapters import SIGNED_UP_SESSION_KEY
from accounts.dashboard import cards_for
from accounts.limits import effective_limits
from accounts.selectors import public_plans


@login_not_required
def favicon(request):
    """/favicon.ico, which browsers and tools ask for whatever a page links: the static icon."""
    return redirect(static("warren/favicon.ico"))


def _error_page(request, template: str, status: int, heading: str, lead: str):
    # Signed-in people keep the tabs; anyone else gets the entrance layout and a way in.
    layout = "app.html" if request.user.is_authenticated else "allauth/layouts/entrance.html"
    context = {"layout": layout, "heading": heading, "lead": lead}
    return render(request, template, context, status=status)


def page_not_found(request, exception):
    """handler404: the site's layout and a way back, instead of Django's bare page."""
    return _error_page(
        request,
        "404.html",
        404,
        "Page not found",
        "There is nothing here, or it is not yours to see. Check the address, or start again "
        "from your dashboard.",
    )


def permission_denied(request, exception):
    """handler403: the site's layout and a way back, instead of Django's bare page."""
    return _error_page(
        request, "403.html", 403, "Not allowed", "You do not have permission to open this page."
    )


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


class ConfirmEmailView(AllauthConfirmEmailView):
    """allauth's confirmation page, which also signs in the browser that signed up.

    allauth signs in on confirmation (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION) only while its
    pending login lasts, ACCOUNT_LOGIN_TIMEOUT (15 minutes, kept short because it also bounds
    the two-factor step): a newcomer who read the mail later was sent to the login page.
    The proof allauth asks for, that the person confirming is the one who signed up in this
    browser, is kept here in the session for the session's life instead. The link alone
    never signs anyone in: another browser, or a second use, only confirms.
    """

    def post(self, *args, **kwargs):
        address = self.get_object().email_address
        was_verified = address.verified
        response = super().post(*args, **kwargs)
        request = self.request
        if (
            not was_verified
            and not request.user.is_authenticated
            and request.session.get(SIGNED_UP_SESSION_KEY) == address.user_id
            and EmailAddress.objects.filter(pk=address.pk, verified=True).exists()
        ):
            del request.session[SIGNED_UP_SESSION_KEY]
            return perform_login(
                request, address.user, email_verification=allauth_settings.EMAIL_VERIFICATION
            )
        return response


confirm_email = ConfirmEmailView.as_view()
