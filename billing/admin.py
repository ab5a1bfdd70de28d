from django import forms
from django.conf import settings
from django.contrib import admin

from billing.models import (
    BillingProfile,
    EuMembership,
    Evidence,
    PlanChange,
    Subscription,
    UnitPrices,
    VatRate,
)


@admin.register(UnitPrices)
class UnitPricesAdmin(admin.ModelAdmin):
    # Model.clean refuses a list under which some builder plan would cost less than nothing.
    list_display = ("__str__", "base_minor", "per_1000_cpu_seconds_minor", "updated_at")

    def has_add_permission(self, request):
        return not UnitPrices.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(VatRate)
class VatRateAdmin(admin.ModelAdmin):
    list_display = ("country", "rate", "valid_from", "source")
    list_filter = ("country",)
    ordering = ("country", "-valid_from")


@admin.register(EuMembership)
class EuMembershipAdmin(admin.ModelAdmin):
    list_display = ("country", "joined", "left")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records kept for the tax authority: staff read them, nobody edits or deletes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "username", "billing_country", "geoip_country", "accepted")
    list_filter = ("accepted", "billing_country")
    search_fields = ("username", "ip_address")

    def changelist_view(self, request, extra_context=None):
        if settings.WARREN_GEOIP_DATABASE is None:
            self.message_user(
                request,
                "No GeoIP database is configured (WARREN_GEOIP_DATABASE) and none is shipped: "
                "every IP's country is unknown, so EU customers cannot subscribe.",
                level="warning",
            )
        return super().changelist_view(request, extra_context)


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "country", "vat_number", "vat_number_status")
    list_filter = ("country", "vat_number_status")
    search_fields = ("user__username", "name", "vat_number")
    raw_id_fields = ("user",)


class GrantForm(forms.ModelForm):
    """Staff give a user a plan free of charge: the embedded default has no payment gateway."""

    class Meta:
        model = Subscription
        fields = ["user", "plan"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].required = True

    def validate_unique(self):
        pass  # a grant replaces the user's current subscription


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "description", "net_monthly_minor", "source", "next_invoice_date")
    list_filter = ("source",)
    search_fields = ("user__username",)
    raw_id_fields = ("user",)

    def has_add_permission(self, request):
        return True  # "add" is the staff grant

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = GrantForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["user", "plan"] if obj is None else super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        from billing.services import subscription_grant

        granted = subscription_grant(
            user=form.cleaned_data["user"], plan=form.cleaned_data["plan"], staff=request.user
        )
        obj.pk, obj.description = granted.pk, granted.description


@admin.register(PlanChange)
class PlanChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "description", "net_monthly_minor", "source")
    list_filter = ("source",)
