"""CPU usage: today's CPU-seconds against the plan's allowance, as the Dashboard shows it."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from ninja import Router, Schema

from api.endpoints.common import owner_for, responses
from servers.selectors import cpu_today

router = Router(tags=["cpu"])


class CpuOut(Schema):
    used_seconds: float
    allowance_seconds: int
    percent: int
    window_start: datetime
    resets_at: datetime
    tarpitted: bool


@router.get("{username}/cpu/", response=responses(200, CpuOut))
def cpu_usage(request, username: str):
    today = cpu_today(user=owner_for(request, username), now=timezone.now())
    return {**today.__dict__, "percent": today.percent}
