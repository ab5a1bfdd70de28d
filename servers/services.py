import logging
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import transaction

from accounts.limits import effective_limits
from accounts.models import User
from servers.cpu import cpu_account_new, cpu_shares_for, cpu_window_roll
from servers.models import CpuAccount, CpuCounter, Server

logger = logging.getLogger(__name__)


@transaction.atomic
def servers_register_local(*, hostname: str = "127.0.0.1") -> list[Server]:
    """Register this machine in every role (the embedded default); safe to run again."""
    agent_socket = str(settings.WARREN_EXEC_AGENT_SOCKET)
    servers = []
    for kind in Server.Kind.values:
        defaults = {"is_active": True}
        if kind == Server.Kind.FILE:
            defaults["fileserver_agent_url"] = settings.WARREN_FILESERVER_URL
        else:
            defaults["execution_agent_socket"] = agent_socket
        server, _ = Server.objects.update_or_create(kind=kind, hostname=hostname, defaults=defaults)
        servers.append(server)
    return servers


# --- CPU-seconds accounting and the tarpit --------------------------------------------------
class CpuReading(NamedTuple):
    """One user's cgroup on one server, as its agent reports it."""

    usec: int  # cumulative CPU time since the cgroup was made
    shares: int | None  # the weight it has now


@dataclass(frozen=True)
class WeightChange:
    """A CPU weight one execution server must be told about (applied after the commit)."""

    user: User
    shares: int


def cpu_usage_record(
    *, server: Server, readings: dict[str, CpuReading], now: datetime
) -> list[WeightChange]:
    """Add one server's cgroup readings (by username) to users' day windows.

    Tarpits whoever went over their allowance, lifts the tarpit of whoever reached their reset,
    and returns the weights that differ from what the cgroups have (whatever set them: a
    reboot, a spawn, an earlier run), for the caller to send after the commit. A constant
    number of queries.
    """
    with transaction.atomic():
        users = list(
            User.objects.filter(username__in=list(readings)).select_related("plan", "custom_limits")
        )
        ids = [user.pk for user in users]
        counters = {
            counter.user_id: counter
            for counter in CpuCounter.objects.select_for_update()
            .filter(server=server, user_id__in=ids)
            .order_by("user_id")
        }
        accounts = {
            account.user_id: account
            # In user order, so runs for two servers lock shared users without deadlocking.
            for account in CpuAccount.objects.select_for_update()
            .filter(user_id__in=ids)
            .order_by("user_id")
        }
        batch = _CpuBatch(now=now)
        for user in users:
            counter = counters.get(user.pk) or CpuCounter(user=user, server=server)
            account = accounts.get(user.pk) or cpu_account_new(user=user, now=now)
            batch.add(user, counter, account, readings[user.username])
        return batch.save()


class _CpuBatch:
    """The rows one accounting run changes, written with bulk queries."""

    def __init__(self, *, now: datetime) -> None:
        self.now = now
        self.counters: list[CpuCounter] = []
        self.accounts: list[CpuAccount] = []
        self.changes: list[WeightChange] = []

    def add(
        self, user: User, counter: CpuCounter, account: CpuAccount, reading: CpuReading
    ) -> None:
        usec = reading.usec
        if counter.pk is not None and counter.read_at > self.now:
            return  # a later reading has been recorded already (an overlapping run)
        if counter.pk is None:
            # First sight of this cgroup from this server: only a starting point. Its total
            # may hold weeks since boot (or a deleted namesake's time); at most the minute
            # before a user's first reading goes uncounted.
            delta = 0
        elif usec < counter.last_usec:
            delta = usec  # the cgroup was made again (a reboot): its counter restarted
        else:
            delta = usec - counter.last_usec
        was_tarpitted = account.tarpitted
        rolled = cpu_window_roll(account, now=self.now)
        if delta:
            hour = int((self.now - account.window_start).total_seconds() // 3600)
            account.hourly_usec[min(max(hour, 0), CpuAccount.HOURS - 1)] += delta
            account.used_usec += delta
        limits = effective_limits(user)
        # Both ways: a plan upgraded mid-day lifts the tarpit at the next run.
        over = account.used_usec > limits.cpu_seconds_per_day * 1_000_000
        if over != account.tarpitted:
            account.tarpitted = over
            logger.info(
                "cpu: %s %s %d CPU-seconds: tarpit %s",
                user,
                "is over" if over else "is back within",
                limits.cpu_seconds_per_day,
                "on" if over else "off",
            )
        if delta or counter.pk is None:
            counter.last_usec, counter.read_at = usec, self.now
            self.counters.append(counter)
        if delta or rolled or over != was_tarpitted or account.pk is None:
            self.accounts.append(account)
        shares = cpu_shares_for(user=user, account=account, limits=limits)
        if reading.shares != shares:
            self.changes.append(WeightChange(user, shares))

    def save(self) -> list[WeightChange]:
        for account in self.accounts:
            account.updated_at = self.now  # bulk_update does not apply auto_now
        account_fields = ["window_start", "used_usec", "hourly_usec", "tarpitted", "updated_at"]
        # Another server's run may have made the same new user's account meanwhile: keep
        # theirs (the rows are locked per user, but a missing row cannot be locked).
        _bulk_save(CpuAccount, self.accounts, account_fields, ignore_conflicts=True)
        _bulk_save(CpuCounter, self.counters, ["last_usec", "read_at"])
        return self.changes


def _bulk_save(model, rows: list, fields: list[str], *, ignore_conflicts: bool = False) -> None:
    existing = [row for row in rows if row.pk is not None]
    model.objects.bulk_create(
        [row for row in rows if row.pk is None], ignore_conflicts=ignore_conflicts
    )
    if existing:
        model.objects.bulk_update(existing, fields)
