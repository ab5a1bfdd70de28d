"""Billing records: prices, VAT rates and EU membership as data, evidence, subscriptions, invoices.

Money is always an integer number of minor units (cents) of ``settings.WARREN_BILLING_CURRENCY``.
Evidence and invoices are kept for ten years (the seed's VAT MOSS rule), so nothing here is
deleted with its user: the user link is set to NULL and the row keeps its own copy of who it was.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from billing.countries import country_choices


class UnitPrices(models.Model):
    """The price list for custom limits (one row, edited by staff); fixed plans keep their own."""

    base_minor = models.IntegerField(
        default=0,
        help_text="Monthly price before any resources, in minor units; may be negative "
        "(a discount) as long as no plan the builder can make costs less than nothing.",
    )
    per_1000_cpu_seconds_minor = models.IntegerField(default=60)
    per_web_app_minor = models.IntegerField(default=200)
    per_web_worker_minor = models.IntegerField(default=100)
    per_gib_minor = models.IntegerField(default=50)
    per_scheduled_task_minor = models.IntegerField(default=20)
    custom_domains_minor = models.IntegerField(default=300)
    postgres_minor = models.IntegerField(default=700)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "unit prices"
        verbose_name_plural = "unit prices"

    def __str__(self):
        return "Unit prices"

    def clean(self):
        from billing.pricing import cheapest_builder_price

        lowest = cheapest_builder_price(self)
        if lowest < 0:
            raise ValidationError(
                f"With these prices the cheapest plan the builder allows would cost {lowest} "
                "minor units a month: a plan cannot cost less than nothing."
            )


class EuMembership(models.Model):
    """When a country was in the EU for VAT (the UK left on 2021-01-01): data, not code."""

    country = models.CharField(max_length=2, choices=country_choices)
    joined = models.DateField()
    left = models.DateField(null=True, blank=True, help_text="First day outside the EU.")

    class Meta:
        ordering = ["country", "joined"]
        verbose_name = "EU membership"

    def __str__(self):
        return f"{self.country} {self.joined} to {self.left or 'now'}"


class VatRate(models.Model):
    """A country's standard VAT rate from ``valid_from`` until the next row's date."""

    country = models.CharField(max_length=2, choices=country_choices)
    rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Percent, e.g. 21.00.",
    )
    valid_from = models.DateField()
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["country", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["country", "valid_from"], name="one_rate_per_day")
        ]

    def __str__(self):
        return f"{self.country} {self.rate}% from {self.valid_from}"


class BillingProfile(models.Model):
    """Who is billed: the address on invoices and, for a business, its VAT number."""

    class VatNumberStatus(models.TextChoices):
        NONE = "none", "No VAT number"
        VALID = "valid", "Confirmed by VIES"
        INVALID = "invalid", "Refused by VIES"
        UNVERIFIED = "unverified", "VIES did not answer; VAT is charged until it confirms"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_profile"
    )
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    country = models.CharField(max_length=2, choices=country_choices)
    vat_number = models.CharField(max_length=20, blank=True)
    vat_number_status = models.CharField(
        max_length=12, choices=VatNumberStatus.choices, default=VatNumberStatus.NONE
    )
    vat_number_checked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} ({self.country})"

    @property
    def is_confirmed_business(self) -> bool:
        return bool(self.vat_number) and self.vat_number_status == self.VatNumberStatus.VALID


class Evidence(models.Model):
    """The two pieces of location evidence taken when someone subscribed (kept ten years)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    username = models.CharField(max_length=30)
    billing_country = models.CharField(max_length=2)
    ip_address = models.GenericIPAddressField()
    geoip_country = models.CharField(max_length=2, blank=True, help_text="Blank: not found.")
    accepted = models.BooleanField()
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "evidence"

    def __str__(self):
        verdict = "accepted" if self.accepted else "refused"
        ip_country = self.geoip_country or "?"
        return f"{self.username}: billing {self.billing_country}, IP {ip_country}, {verdict}"


class Gateway(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    PAYPAL = "paypal", "PayPal"


class Subscription(models.Model):
    """What a user pays for now: the plan or custom limits and the net price they agreed to."""

    class Source(models.TextChoices):
        TRIAL = "trial", "Trial (no payment gateway)"
        STAFF = "staff", "Granted by staff"
        FREE = "free", "Free plan"
        GATEWAY = "gateway", "Paid through a gateway"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription"
    )
    plan = models.ForeignKey(
        "accounts.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    limits = models.JSONField(help_text="The limits bought, as agreed.")
    description = models.CharField(max_length=200)
    net_monthly_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=8, choices=Source.choices)
    evidence = models.ForeignKey(
        Evidence, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    next_invoice_date = models.DateField(null=True, blank=True)
    reminded_for = models.DateField(null=True, blank=True, help_text="Invoice date last reminded.")
    # Billing II: who collects the money, and their id for the subscription (blank: no gateway).
    gateway = models.CharField(max_length=8, choices=Gateway.choices, blank=True)
    gateway_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Late payers: since when a charge has failed, reminders sent since, whether the grace
    # period ran out (free limits in force until they pay; the row keeps what they bought).
    delinquent_since = models.DateTimeField(null=True, blank=True)
    delinquent_reminders = models.PositiveSmallIntegerField(default=0)
    suspended = models.BooleanField(default=False, help_text="On free limits until they pay.")
    last_paid_at = models.DateTimeField(
        null=True, blank=True, help_text="When the gateway last took a payment (event time)."
    )
    cancel_at = models.DateField(
        null=True, blank=True, help_text="Cancelled: paid limits until this day, then free."
    )

    def __str__(self):
        return f"{self.user}: {self.description}"

    @property
    def is_paid(self) -> bool:
        return self.net_monthly_minor > 0


class PlanChange(models.Model):
    """One row per plan change, with the price agreed: the subscription's history."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_changes"
    )
    description = models.CharField(max_length=200)
    limits = models.JSONField()
    net_monthly_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=8, choices=Subscription.Source.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user}: {self.description}"


class InvoiceCounter(models.Model):
    """The next invoice number; its row is locked while a number is taken (no gaps, no twins)."""

    next_number = models.PositiveIntegerField(default=1)

    def __str__(self):
        return f"Next invoice number {self.next_number}"


class Invoice(models.Model):
    """An issued invoice or credit note: immutable once saved (a correction is a credit note)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit", "Credit note"

    number = models.PositiveIntegerField(unique=True)
    kind = models.CharField(max_length=7, choices=Kind.choices, default=Kind.INVOICE)
    credits = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="invoices"
    )
    issued_on = models.DateField()
    period_start = models.DateField()
    period_end = models.DateField()
    description = models.CharField(max_length=200)
    seller = models.TextField()
    buyer_name = models.CharField(max_length=200)
    buyer_address = models.TextField(blank=True)
    buyer_country = models.CharField(max_length=2)
    buyer_vat_number = models.CharField(max_length=20, blank=True)
    currency = models.CharField(max_length=3)
    net_minor = models.IntegerField()
    vat_country = models.CharField(max_length=2, blank=True, help_text="Country charged for.")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    vat_minor = models.IntegerField()
    gross_minor = models.IntegerField()
    reverse_charge = models.BooleanField(default=False)
    vat_note = models.CharField(max_length=200, blank=True)
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.display_number}"

    def save(self, *args, **kwargs):
        # Issued means final: the tax authority may ask for it as it was for ten years.
        if self.pk is not None:
            raise ValidationError("An issued invoice cannot be changed; issue a credit note.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("An issued invoice cannot be deleted; issue a credit note.")

    @property
    def display_number(self) -> str:
        return f"{self.number:06d}"


class ReconciliationRun(models.Model):
    """One nightly pass of every gateway subscription against the VAT on its next invoice date."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        INTERRUPTED = "interrupted", "Interrupted (its worker stopped; the next run redoes it)"

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    today = models.DateField(help_text="The day the run reconciled for.")
    nerfed = models.BooleanField(help_text="Dry run: recorded what it would do, wrote nothing.")
    status = models.CharField(max_length=11, choices=Status.choices, default=Status.RUNNING)
    checked = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    gateway_calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        mode = " (nerfed)" if self.nerfed else ""
        return f"Reconciliation of {self.today}{mode}: {self.get_status_display()}"


class ReconciliationAction(models.Model):
    """What a run did (or, nerfed, would have done) to one subscription; correct ones are
    only counted, so a quiet night writes a handful of rows, not one per subscriber."""

    class Outcome(models.TextChoices):
        UPDATED = "updated", "Updated at the gateway"
        WOULD_UPDATE = "would", "Would update (nerfed)"
        DEFERRED = "deferred", "Deferred: inside PayPal's no-change window"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed (retried next run)"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="actions")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    gateway = models.CharField(max_length=8, choices=Gateway.choices)
    gateway_id = models.CharField(max_length=64)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    next_invoice_date = models.DateField(null=True, blank=True)
    next_charge_date = models.DateField(null=True, blank=True)
    net_minor = models.IntegerField(null=True, blank=True)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    gateway_gross_minor = models.IntegerField(null=True, blank=True)
    expected_gross_minor = models.IntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.gateway} {self.gateway_id}: {self.get_outcome_display()}"

    @property
    def difference_minor(self) -> int | None:
        """To collect (positive) or refund (negative) if charged at the gateway's amount."""
        if self.gateway_gross_minor is None or self.expected_gross_minor is None:
            return None
        return self.expected_gross_minor - self.gateway_gross_minor


class GatewayEvent(models.Model):
    """A webhook received from a gateway, once per event id: replays are recognised here."""

    class Outcome(models.TextChoices):
        RECORDED = "recorded", "Recorded"
        IGNORED = "ignored", "Ignored (not an event Warren acts on, or stale)"
        REFUSED = "refused", "Refused (unknown subscription, amount or currency)"

    gateway = models.CharField(max_length=8, choices=Gateway.choices)
    event_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=60)
    gateway_subscription_id = models.CharField(max_length=64, blank=True)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    amount_minor = models.IntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="one_row_per_event")
        ]

    def __str__(self):
        return f"{self.gateway} {self.kind} {self.event_id}"


class Payment(models.Model):
    """A gateway's payment of one invoice (an invoice is paid once)."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="payment")
    event = models.OneToOneField(GatewayEvent, on_delete=models.PROTECT, related_name="payment")
    amount_minor = models.IntegerField()
    currency = models.CharField(max_length=3)
    paid_at = models.DateTimeField()

    def __str__(self):
        return f"Payment of {self.invoice}"


class CheckoutAttempt(models.Model):
    """A user sent to a gateway's payment page for a plan at an agreed price.

    The plan, limits, price and location evidence are fixed here when the user leaves, so the
    gateway's confirmation (a webhook, from the gateway's own address) activates exactly what
    they agreed to; ``token`` is what the gateway carries back (``client_reference_id`` at
    Stripe, ``custom_id`` at PayPal) and names the return page, which only its owner sees.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the gateway"
        COMPLETED = "completed", "Subscribed"
        REFUSED = "refused", "Refused (the confirmation disagreed)"

    token = models.UUIDField(unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkout_attempts"
    )
    gateway = models.CharField(max_length=8, choices=Gateway.choices)
    plan = models.ForeignKey(
        "accounts.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    limits = models.JSONField()
    description = models.CharField(max_length=200)
    net_monthly_minor = models.PositiveIntegerField()
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    gross_monthly_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="+")
    keep_web_app_ids = models.JSONField(null=True, blank=True)
    session_id = models.CharField(max_length=100, blank=True, help_text="The gateway's id.")
    gateway_subscription_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user}: {self.description} at {self.gateway} ({self.status})"
