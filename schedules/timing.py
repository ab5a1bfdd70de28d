"""When a task's next slot is: pure arithmetic on UTC datetimes (no queries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def schedule_next(*, interval: str, hour: int | None, minute: int, after: datetime) -> datetime:
    """The first slot of the schedule strictly after ``after`` (UTC, on the minute)."""
    after = after.astimezone(UTC)
    if interval == "hourly":
        slot = after.replace(minute=minute, second=0, microsecond=0)
        return slot if slot > after else slot + timedelta(hours=1)
    slot = after.replace(hour=hour or 0, minute=minute, second=0, microsecond=0)
    return slot if slot > after else slot + timedelta(days=1)


def minute_start(moment: datetime) -> datetime:
    """The start of the minute holding ``moment``: the slot a beat at that minute serves."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
