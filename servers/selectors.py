from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count

from accounts.limits import effective_limits
from servers.cpu import cpu_account_new, cpu_shares_for, cpu_window_roll
from servers.models import CpuAccount, Server


def server_with_fewest_users(*, kind: str) -> Server | None:
    """The active server of ``kind`` holding the fewest users (new homes go there)."""
    return (
        Server.objects.filter(kind=kind, is_active=True)
        .annotate(user_count=Count("users"))
        .order_by("user_count", "pk")
        .first()
    )


def first_active_server(*, kind: str) -> Server | None:
    return Server.objects.filter(kind=kind, is_active=True).order_by("pk").first()


EXECUTION_KINDS = (Server.Kind.CONSOLE, Server.Kind.TASK)


def execution_servers() -> list[Server]:
    """Active console and task servers, one per execution agent (roles sharing a socket merge).

    These are the machines where users' counted processes run (web app workers are not
    counted); the embedded default registers 127.0.0.1 in both roles with one agent.
    """
    seen: dict[tuple[str, str], Server] = {}
    servers = Server.objects.filter(kind__in=EXECUTION_KINDS, is_active=True).order_by("pk")
    for server in servers:
        seen.setdefault((server.hostname, server.execution_agent_socket), server)
    return list(seen.values())


@dataclass(frozen=True)
class CpuToday:
    """A user's CPU-seconds day as the Dashboard shows it."""

    used_seconds: float
    allowance_seconds: int
    window_start: datetime
    resets_at: datetime
    hourly_seconds: list[float]
    tarpitted: bool

    @property
    def percent(self) -> int:
        if self.allowance_seconds <= 0:
            return 100
        return min(100, round(100 * self.used_seconds / self.allowance_seconds))


def local_server(*, kind: str) -> Server | None:
    """This machine's active server of ``kind``: the one whose agent socket opens here."""
    servers = Server.objects.filter(
        kind=kind, is_active=True, hostname__in=settings.WARREN_LOCAL_HOSTNAMES
    )
    return servers.order_by("pk").first()


def is_local(server: Server) -> bool:
    """Whether this process can open ``server``'s agent socket (the agent is on this machine)."""
    return server.hostname in settings.WARREN_LOCAL_HOSTNAMES


def cpu_today(*, user, now: datetime) -> CpuToday:
    """Today's usage: the stored window, or an empty one if it has not started or has ended."""
    account = _account_now(user, now) or cpu_account_new(user=user, now=now)
    return CpuToday(
        used_seconds=account.used_seconds,
        allowance_seconds=effective_limits(user).cpu_seconds_per_day,
        window_start=account.window_start,
        resets_at=account.window_end,
        hourly_seconds=[usec / 1e6 for usec in account.hourly_usec],
        tarpitted=account.tarpitted,
    )


def cpu_shares_now(*, user, now: datetime) -> int:
    """The CPU weight a new sandbox of ``user`` starts with (the tarpit's, until the reset)."""
    return cpu_shares_for(user=user, account=_account_now(user, now))


def _account_now(user, now: datetime) -> CpuAccount | None:
    account = CpuAccount.objects.filter(user=user).first()
    if account is not None:
        # Rolled in memory only: a page view writes nothing; the next accounting run saves it.
        cpu_window_roll(account, now=now)
    return account
