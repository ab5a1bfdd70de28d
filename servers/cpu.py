"""The CPU-seconds day: each user's window, its reset, and the CPU weight that follows.

Pure arithmetic on ``CpuAccount`` rows (no queries of its own beyond the user's limits), so
the accounting service, the Dashboard and the sandbox's spawn limits agree on one answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from accounts.limits import Limits, effective_limits
from accounts.models import User
from servers.models import CpuAccount

# The weights PythonAnywhere published for cgroup v1 cpu.shares (the agent maps them to
# cpu.weight on v2). The tarpit only slows: over-allowance processes keep running.
TARPIT_SHARES = 2
FREE_SHARES = 300
PAID_SHARES = 700


def cpu_window_start(*, reset_time: time, now: datetime) -> datetime:
    """The latest moment at or before ``now`` whose UTC time of day is ``reset_time``."""
    start = datetime.combine(now.astimezone(UTC).date(), reset_time, tzinfo=UTC)
    return start if start <= now else start - timedelta(days=1)


def cpu_reset_time_for(user: User) -> time:
    """A user's own reset time: the minute of the day they joined (spreads resets out)."""
    return user.date_joined.astimezone(UTC).time().replace(second=0, microsecond=0)


def cpu_account_new(*, user: User, now: datetime) -> CpuAccount:
    """An unsaved account whose window holds ``now``."""
    reset_time = cpu_reset_time_for(user)
    return CpuAccount(
        user=user,
        reset_time=reset_time,
        window_start=cpu_window_start(reset_time=reset_time, now=now),
        hourly_usec=[0] * CpuAccount.HOURS,
    )


def cpu_window_roll(account: CpuAccount, *, now: datetime) -> bool:
    """Start a new day window if ``now`` is past the current one; say whether it did."""
    if now < account.window_end:
        return False
    account.window_start = cpu_window_start(reset_time=account.reset_time, now=now)
    account.used_usec = 0
    account.hourly_usec = [0] * CpuAccount.HOURS
    account.tarpitted = False
    return True


def cpu_shares_for(*, user: User, account: CpuAccount | None, limits: Limits | None = None) -> int:
    """The CPU weight the user's cgroups should have now."""
    if account is not None and account.tarpitted:
        return TARPIT_SHARES
    limits = limits or effective_limits(user)
    return PAID_SHARES if limits.is_custom or not user.plan.is_free else FREE_SHARES
