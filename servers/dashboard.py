"""Dashboard cards: CPU-seconds today, and the notices a user must not miss (the tarpit, an
unsandboxed development agent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.dashboard import Card
from servers.agents import agent_info
from servers.models import CpuAccount
from servers.selectors import CpuToday, cpu_today, execution_servers, is_local

CHART_WIDTH, CHART_HEIGHT = 240, 48
BAR_WIDTH = CHART_WIDTH // CpuAccount.HOURS - 2  # a 2-unit gap between hours


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    title: str
    current: bool


def cpu_card(request) -> Card:
    today = _today(request)
    chart = {"width": CHART_WIDTH, "height": CHART_HEIGHT, "bar_width": BAR_WIDTH}
    return Card("servers/cards/cpu.html", {"today": today, "bars": chart_bars(today), **chart})


def notices_card(request) -> Card | None:
    """A wide card above the others, only when there is something to warn about."""
    today = _today(request)
    warnings = unsandboxed_warnings()
    if not today.tarpitted and not warnings:
        return None
    return Card("servers/cards/notices.html", {"today": today, "warnings": warnings}, wide=True)


def chart_bars(today: CpuToday) -> list[Bar]:
    """Today's hours as SVG bars, scaled to the busiest hour."""
    peak = max(today.hourly_seconds) or 1
    slot = CHART_WIDTH // len(today.hourly_seconds)
    now_hour = int((timezone.now() - today.window_start).total_seconds() // 3600)
    bars = []
    for hour, seconds in enumerate(today.hourly_seconds):
        height = max(1, round(CHART_HEIGHT * seconds / peak)) if seconds else 0
        start = timezone.localtime(today.window_start + timedelta(hours=hour))
        title = f"{start:%H:%M}: {seconds:.1f} CPU-seconds"
        bars.append(Bar(hour * slot, CHART_HEIGHT - height, height, title, hour == now_hour))
    return bars


def unsandboxed_warnings() -> list[str]:
    """What each execution agent says is wrong with its sandbox (cached for a minute)."""
    warnings = []
    for server in filter(is_local, execution_servers()):
        info = agent_info(server)
        if info is not None and (not info["sandbox"] or not info["root"] or info["warnings"]):
            said = "; ".join(info["warnings"]) or "bubblewrap is missing"
            warnings.append(f"{server.hostname}: user processes are NOT fully sandboxed ({said}).")
    return warnings


def _today(request) -> CpuToday:
    # Both cards show the same figures: read them once per request.
    if not hasattr(request, "_warren_cpu_today"):
        request._warren_cpu_today = cpu_today(user=request.user, now=timezone.now())
    return request._warren_cpu_today
