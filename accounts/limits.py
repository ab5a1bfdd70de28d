"""One answer to "what may this user use?": every app asks ``effective_limits``."""

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist

LIMIT_FIELDS = (
    "cpu_seconds_per_day",
    "max_consoles",
    "max_web_apps",
    "max_web_workers_per_app",
    "disk_bytes",
    "max_scheduled_tasks",
    "max_always_on_tasks",
    "postgres_allowed",
    "custom_domains_allowed",
    "ssh_allowed",
)


@dataclass(frozen=True)
class Limits:
    plan_name: str
    is_custom: bool
    cpu_seconds_per_day: int
    max_consoles: int | None  # None: unlimited
    max_web_apps: int
    max_web_workers_per_app: int
    disk_bytes: int
    max_scheduled_tasks: int
    max_always_on_tasks: int
    postgres_allowed: bool
    custom_domains_allowed: bool
    ssh_allowed: bool

    def allows(self, field: str, count: int) -> bool:
        """Whether having ``count`` of the thing limited by ``field`` is within the limit."""
        limit = getattr(self, field)
        return limit is None or count <= limit


def effective_limits(user) -> Limits:
    """The user's custom limits if they hold any, else their plan's."""
    try:
        source, is_custom = user.custom_limits, True
    except ObjectDoesNotExist:
        source, is_custom = user.plan, False
    return Limits(
        plan_name="Custom" if is_custom else user.plan.name,
        is_custom=is_custom,
        **{field: getattr(source, field) for field in LIMIT_FIELDS},
    )
