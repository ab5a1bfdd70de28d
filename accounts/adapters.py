from allauth.account.adapter import DefaultAccountAdapter

from accounts.models import DEFAULT_PLAN_SLUG, Plan
from accounts.services import user_provision

SIGNED_UP_SESSION_KEY = "warren_signed_up_user_id"


class AccountAdapter(DefaultAccountAdapter):
    def new_user(self, request):
        user = super().new_user(request)
        user.plan = Plan.objects.get(slug=DEFAULT_PLAN_SLUG)
        return user

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            user_provision(user=user)
            # What lets this browser be signed in when the address is confirmed (see
            # accounts.views.ConfirmEmailView).
            request.session[SIGNED_UP_SESSION_KEY] = user.pk
        return user
