"""Parsing what the billing pages send: one form per kind of input, no business rules here."""

from django import forms

from billing.countries import COUNTRY_CHOICES
from billing.pricing import BUILDER_BOUNDS, BUILDER_SWITCHES, CPU_STEP, CustomChoice

LABELS = {
    "cpu_seconds_per_day": "CPU-seconds per day",
    "max_web_apps": "Web apps",
    "max_web_workers_per_app": "Web workers per app",
    "disk_gib": "Disk (GiB)",
    "max_scheduled_tasks": "Scheduled tasks",
    "custom_domains_allowed": "Custom domains",
    "postgres_allowed": "PostgreSQL",
}


class BuilderForm(forms.Form):
    """The Customise sliders; the bounds are the ones the prices are checked against."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (lowest, highest) in BUILDER_BOUNDS.items():
            step = CPU_STEP if name == "cpu_seconds_per_day" else 1
            self.fields[name] = forms.IntegerField(
                label=LABELS[name],
                min_value=lowest,
                max_value=highest,
                widget=forms.NumberInput(attrs={"step": step}),
                error_messages={
                    "min_value": f"{LABELS[name]}: at least {lowest}.",
                    "max_value": f"{LABELS[name]}: at most {highest:,}.",
                    "invalid": f"{LABELS[name]}: enter a whole number.",
                    "required": f"{LABELS[name]}: enter a number.",
                },
            )
        for name in BUILDER_SWITCHES:
            self.fields[name] = forms.BooleanField(label=LABELS[name], required=False)

    def choice(self) -> CustomChoice:
        return CustomChoice(**self.cleaned_data)

    @classmethod
    def initial_for(cls, limits) -> dict:
        """Slider positions for the user's current limits, kept within the builder's bounds."""
        wanted = {
            "cpu_seconds_per_day": limits.cpu_seconds_per_day,
            "max_web_apps": limits.max_web_apps,
            "max_web_workers_per_app": limits.max_web_workers_per_app,
            "disk_gib": max(1, limits.disk_bytes // (1024**3)),
            "max_scheduled_tasks": limits.max_scheduled_tasks,
        }
        initial = {
            name: min(max(wanted[name], low), high) for name, (low, high) in BUILDER_BOUNDS.items()
        }
        return initial | {name: getattr(limits, name) for name in BUILDER_SWITCHES}


class QuotedPriceForm(forms.Form):
    """The price the page showed, sent back so the service can refuse a different one."""

    quoted_net_minor = forms.IntegerField(min_value=0)
    keep = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())
    confirmed = forms.BooleanField(required=False)

    def __init__(self, *args, web_apps=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["keep"].choices = [(app.pk, app.domain) for app in web_apps]


class AddressForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name (person or business)")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    country = forms.ChoiceField(
        choices=[("", "Choose a country"), *COUNTRY_CHOICES],
        error_messages={
            "required": "Choose the country of your billing address.",
            "invalid_choice": "Choose the country of your billing address from the list.",
        },
    )
    vat_number = forms.CharField(
        max_length=30,
        required=False,
        label="VAT number (EU businesses only)",
        help_text="An EU business with a valid VAT number is not charged VAT (reverse charge).",
    )
