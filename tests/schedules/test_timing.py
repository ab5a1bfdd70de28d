from datetime import UTC, datetime

from schedules.timing import schedule_next


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_daily_slot_later_today_is_today():
    assert schedule_next(
        interval="daily", hour=10, minute=5, after=at("2026-03-02T09:30:20")
    ) == at("2026-03-02T10:05")


def test_a_daily_slot_already_passed_is_tomorrow():
    assert schedule_next(interval="daily", hour=9, minute=0, after=at("2026-03-02T09:30")) == at(
        "2026-03-03T09:00"
    )


def test_the_slot_at_the_very_moment_is_the_next_one():
    assert schedule_next(interval="daily", hour=9, minute=30, after=at("2026-03-02T09:30")) == at(
        "2026-03-03T09:30"
    )


def test_hourly_slots_roll_over_the_hour_and_the_day():
    assert schedule_next(interval="hourly", hour=None, minute=15, after=at("2026-03-02T09:10")) == (
        at("2026-03-02T09:15")
    )
    assert schedule_next(interval="hourly", hour=None, minute=5, after=at("2026-12-31T23:30")) == (
        at("2027-01-01T00:05")
    )
