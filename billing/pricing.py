"""One answer to "what does this plan cost a month, before VAT?", in integer minor units.

Fixed plans carry their own price (``Plan.monthly_price_minor``); custom limits are priced from
staff's ``UnitPrices``. The builder's bounds live here too, so the form, the service and the
admin's "never negative" check agree on what can be bought.
"""

from dataclasses import dataclass

from accounts.models import GIB, Plan

# (field, smallest, largest, step): what the Customise sliders offer.
CPU_STEP = 1000
BUILDER_BOUNDS = {
    "cpu_seconds_per_day": (CPU_STEP, 100_000),
    "max_web_apps": (0, 20),
    "max_web_workers_per_app": (1, 10),
    "disk_gib": (1, 200),
    "max_scheduled_tasks": (0, 50),
}
BUILDER_SWITCHES = ("custom_domains_allowed", "postgres_allowed")


@dataclass(frozen=True)
class CustomChoice:
    """What the builder's sliders and switches ask for (validated against BUILDER_BOUNDS)."""

    cpu_seconds_per_day: int
    max_web_apps: int
    max_web_workers_per_app: int
    disk_gib: int
    max_scheduled_tasks: int
    custom_domains_allowed: bool
    postgres_allowed: bool

    def limits(self) -> dict:
        """The account limits this buys (consoles: as many as the most generous public plan)."""
        return {
            "cpu_seconds_per_day": self.cpu_seconds_per_day,
            "max_consoles": builder_consoles(),
            "max_web_apps": self.max_web_apps,
            "max_web_workers_per_app": self.max_web_workers_per_app,
            "disk_bytes": self.disk_gib * GIB,
            "max_scheduled_tasks": self.max_scheduled_tasks,
            # Unpriced on purpose: the builder does not sell always-on tasks (yet); a custom
            # account that needs them gets them from staff (the admin's custom limits).
            "max_always_on_tasks": 0,
            "postgres_allowed": self.postgres_allowed,
            "custom_domains_allowed": self.custom_domains_allowed,
            # Every paid plan has SSH (the public ones too): a built plan is a paid plan.
            "ssh_allowed": True,
        }

    def describe(self) -> str:
        parts = [
            f"{self.cpu_seconds_per_day:,} CPU-s/day",
            f"{self.max_web_apps} web apps x {self.max_web_workers_per_app} workers",
            f"{self.disk_gib} GiB",
            f"{self.max_scheduled_tasks} tasks",
        ]
        if self.custom_domains_allowed:
            parts.append("custom domains")
        if self.postgres_allowed:
            parts.append("PostgreSQL")
        return "Custom: " + ", ".join(parts)


def builder_consoles() -> int | None:
    counts = [plan.max_consoles for plan in Plan.objects.filter(is_public=True)]
    if not counts or None in counts:
        return None
    return max(counts)


def _cpu_units(cpu_seconds: int) -> int:
    return -(-cpu_seconds // CPU_STEP)  # every started 1,000 CPU-seconds


def _extra_workers(choice) -> int:
    # Each web app comes with one worker; the price is for the workers beyond that.
    return choice.max_web_apps * (choice.max_web_workers_per_app - 1)


def custom_monthly_net_minor(choice: CustomChoice, prices) -> int:
    """The net monthly price of ``choice`` at ``prices`` (a UnitPrices)."""
    return (
        prices.base_minor
        + _cpu_units(choice.cpu_seconds_per_day) * prices.per_1000_cpu_seconds_minor
        + choice.max_web_apps * prices.per_web_app_minor
        + _extra_workers(choice) * prices.per_web_worker_minor
        + choice.disk_gib * prices.per_gib_minor
        + choice.max_scheduled_tasks * prices.per_scheduled_task_minor
        + (prices.custom_domains_minor if choice.custom_domains_allowed else 0)
        + (prices.postgres_minor if choice.postgres_allowed else 0)
    )


def cheapest_builder_price(prices) -> int:
    """The lowest price any builder choice can have at ``prices`` (used to refuse edits < 0).

    The price is linear in each quantity, so its minimum over the bounds is at a corner:
    each term at whichever end of its range is cheaper."""
    lowest = prices.base_minor
    cpu_lo, cpu_hi = BUILDER_BOUNDS["cpu_seconds_per_day"]
    lowest += min(_cpu_units(v) * prices.per_1000_cpu_seconds_minor for v in (cpu_lo, cpu_hi))
    apps = BUILDER_BOUNDS["max_web_apps"]
    workers = BUILDER_BOUNDS["max_web_workers_per_app"]
    lowest += min(
        a * prices.per_web_app_minor + a * (w - 1) * prices.per_web_worker_minor
        for a in apps
        for w in workers
    )
    lowest += min(g * prices.per_gib_minor for g in BUILDER_BOUNDS["disk_gib"])
    lowest += min(
        t * prices.per_scheduled_task_minor for t in BUILDER_BOUNDS["max_scheduled_tasks"]
    )
    lowest += min(0, prices.custom_domains_minor) + min(0, prices.postgres_minor)
    return lowest


def current_unit_prices():
    """The price list (the first row; a data migration makes it)."""
    from billing.models import UnitPrices

    return UnitPrices.objects.order_by("pk").first() or UnitPrices()


def format_money(minor: int, currency: str) -> str:
    sign = "-" if minor < 0 else ""
    major, rest = divmod(abs(minor), 100)
    return f"{sign}{currency} {major:,}.{rest:02d}"
