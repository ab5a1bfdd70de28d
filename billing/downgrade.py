"""What a smaller plan means for what the user already has: said exactly, before they agree.

Nothing is ever deleted by a plan change. Web apps beyond the new limit are disabled (the user
picks which stay on), the tarpit follows the new CPU allowance, web apps run with at most the
new number of workers from their next reload, and disk over quota makes writes fail until
the user tidies up.
"""

from dataclasses import dataclass

from accounts.limits import effective_limits
from accounts.models import GIB, User
from files.selectors import storage_usage
from webapps.models import WebApp


@dataclass(frozen=True)
class Overage:
    field: str
    problem: str
    consequence: str


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def overages(*, user, limits: dict) -> list[Overage]:
    """Everything the user has beyond ``limits`` (the new plan's), with what will happen."""
    found = []
    apps = list(WebApp.objects.filter(user=user).order_by("domain"))
    allowed = limits["max_web_apps"]
    if len(apps) > allowed:
        found.append(
            Overage(
                "max_web_apps",
                f"You have {_plural(len(apps), 'web app')}; the new plan allows {allowed}.",
                "Nothing is deleted: choose which stay on, and the others are disabled "
                "(their files and settings are kept; visitors see Warren's page).",
            )
        )
    workers = limits["max_web_workers_per_app"]
    for app in apps:
        if app.workers > workers:
            found.append(
                Overage(
                    "max_web_workers_per_app",
                    f"{app.domain} has {_plural(app.workers, 'worker')}; the new plan allows "
                    f"{workers} per web app.",
                    f"It runs with {_plural(workers, 'worker')} from its next reload.",
                )
            )
    if not limits["custom_domains_allowed"] and any(not app.own_address for app in apps):
        found.append(
            Overage(
                "custom_domains_allowed",
                "Some of your web apps use custom domains; the new plan has none.",
                "They stay as they are until you next change them.",
            )
        )
    # Read afresh: the caller's user may hold a stale cache of the limits it is leaving.
    current = effective_limits(User.objects.select_related("plan").get(pk=user.pk))
    if limits["cpu_seconds_per_day"] < current.cpu_seconds_per_day:
        found.append(
            Overage(
                "cpu_seconds_per_day",
                f"Your CPU allowance goes down to {limits['cpu_seconds_per_day']:,} "
                "CPU-seconds a day.",
                "Past it your processes keep running but slowly (the tarpit) until the next day.",
            )
        )
    found.extend(_disk_overage(user, limits["disk_bytes"]))
    return found


def _disk_overage(user, disk_bytes: int) -> list[Overage]:
    usage = storage_usage(user=user) if user.file_server_id else None
    if usage is None or usage.used_bytes <= disk_bytes:
        return []
    return [
        Overage(
            "disk_bytes",
            f"You use {usage.used_bytes / GIB:.1f} GiB of disk; the new plan allows "
            f"{disk_bytes / GIB:.1f} GiB.",
            "Nothing is deleted, but writing files fails until you are under the limit.",
        )
    ]
