import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from billing.models import (
    BillingProfile,
    CheckoutAttempt,
    EuMembership,
    Evidence,
    GatewayEvent,
    Invoice,
    Payment,
    PlanChange,
    ReconciliationAction,
    ReconciliationRun,
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


class DelinquentFilter(admin.SimpleListFilter):
    """Staff's list of late payers: a charge failed and has not been paid since."""

    title = "payment"
    parameter_name = "delinquent"

    def lookups(self, request, model_admin):
        return [("yes", "Delinquent (payment failing)"), ("no", "Paying")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(delinquent_since__isnull=False)
        if self.value() == "no":
            return queryset.filter(delinquent_since__isnull=True)
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "description",
        "net_monthly_minor",
        "source",
        "gateway",
        "next_invoice_date",
        "delinquent_since",
        "suspended",
    )
    list_filter = ("source", "gateway", DelinquentFilter, "suspended")
    search_fields = ("user__username", "gateway_id")
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


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "display_number",
        "kind",
        "issued_on",
        "buyer_name",
        "buyer_country",
        "vat_country",
        "vat_rate",
        "net_minor",
        "vat_minor",
        "gross_minor",
        "pdf_link",
    )
    list_filter = ("kind", "reverse_charge", "vat_country", "buyer_country", "issued_on")
    date_hierarchy = "issued_on"
    search_fields = ("=number", "buyer_name", "user__username", "buyer_vat_number")
    list_select_related = ("user",)
    actions = ["credit"]

    @admin.display(description="PDF")
    def pdf_link(self, invoice):
        return format_html(
            '<a href="{}">PDF</a>', reverse("admin:billing_invoice_pdf", args=[invoice.pk])
        )

    def get_urls(self):
        own = [
            path(
                "<int:pk>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="billing_invoice_pdf",
            ),
            path("oss/", self.admin_site.admin_view(self.oss_view), name="billing_invoice_oss"),
        ]
        return own + super().get_urls()

    def pdf_view(self, request, pk):
        from billing.pdf import invoice_pdf

        invoice = get_object_or_404(Invoice, pk=pk)
        return HttpResponse(invoice_pdf(invoice), content_type="application/pdf")

    def oss_view(self, request):
        """The quarter's OSS ("MOSS") return: a table, or CSV with ?format=csv."""
        from billing.oss import oss_csv, oss_report, scheme

        today = timezone.localdate()
        try:
            year = int(request.GET.get("year", today.year))
            quarter = int(request.GET.get("quarter", (today.month - 1) // 3 + 1))
            rows = oss_report(year=year, quarter=quarter)
        except ValueError:
            return HttpResponse("year must be a year and quarter 1 to 4", status=400)
        if request.GET.get("format") == "csv":
            response = HttpResponse(oss_csv(year=year, quarter=quarter), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="oss-{year}-Q{quarter}.csv"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": f"OSS return (the seed's MOSS), {year} Q{quarter}",
            "rows": rows,
            "year": year,
            "quarter": quarter,
            "scheme": scheme(datetime.date(year, 3 * quarter - 2, 1)),
            "currency": settings.WARREN_BILLING_CURRENCY,
        }
        return render(request, "admin/billing/oss.html", context)

    def changelist_view(self, request, extra_context=None):
        extra = {"oss_url": reverse("admin:billing_invoice_oss"), **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.action(description="Issue credit notes for the selected invoices")
    def credit(self, request, queryset):
        from billing.invoicing import credit_note_issue

        for invoice in queryset:
            try:
                note = credit_note_issue(invoice=invoice, today=timezone.localdate())
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(request, f"Issued {note}.")


class ReconciliationActionInline(admin.TabularInline):
    model = ReconciliationAction
    fields = (
        "gateway",
        "gateway_id",
        "subscription",
        "outcome",
        "reason",
        "next_invoice_date",
        "next_charge_date",
        "gateway_gross_minor",
        "expected_gross_minor",
        "difference",
    )
    readonly_fields = fields
    can_delete = False
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="to collect (+) / refund (-)")
    def difference(self, action):
        return action.difference_minor


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """Each night's run: its counts, and below, every action taken (or, nerfed, not taken)."""

    list_display = (
        "started_at",
        "today",
        "nerfed",
        "status",
        "checked",
        "correct",
        "updated",
        "deferred",
        "skipped",
        "failed",
        "gateway_calls",
    )
    list_filter = ("status", "nerfed")
    date_hierarchy = "today"
    search_fields = ("actions__gateway_id", "actions__subscription__user__username")
    inlines = [ReconciliationActionInline]


@admin.register(ReconciliationAction)
class ReconciliationActionAdmin(ReadOnlyAdmin):
    """Every action across runs: filter on "deferred" for the subscriptions charged at the old
    rate, with the amount to collect or refund."""

    list_display = (
        "run",
        "gateway",
        "gateway_id",
        "subscription",
        "outcome",
        "next_charge_date",
        "gateway_gross_minor",
        "expected_gross_minor",
        "difference",
        "reason",
    )
    list_filter = ("outcome", "gateway", "run__nerfed")
    search_fields = ("gateway_id", "subscription__user__username")
    list_select_related = ("run", "subscription__user")

    @admin.display(description="to collect (+) / refund (-)")
    def difference(self, action):
        return action.difference_minor


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    """Every webhook once, with what Warren made of it (refusals are the ones to look at)."""

    list_display = (
        "received_at",
        "gateway",
        "kind",
        "gateway_subscription_id",
        "amount_minor",
        "currency",
        "outcome",
        "detail",
    )
    list_filter = ("outcome", "gateway", "kind")
    search_fields = ("event_id", "gateway_subscription_id", "subscription__user__username")


@admin.register(CheckoutAttempt)
class CheckoutAttemptAdmin(ReadOnlyAdmin):
    """Users sent to a gateway's payment page, and whether its confirmation came."""

    list_display = (
        "created_at",
        "user",
        "gateway",
        "description",
        "gross_monthly_minor",
        "currency",
        "status",
        "gateway_subscription_id",
    )
    list_filter = ("status", "gateway")
    search_fields = ("user__username", "session_id", "gateway_subscription_id", "token")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("paid_at", "invoice", "amount_minor", "currency")
    search_fields = ("invoice__user__username",)
