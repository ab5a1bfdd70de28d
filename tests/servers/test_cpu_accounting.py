"""CPU-seconds accounting: readings become day windows, the tarpit comes and goes with them."""

from datetime import UTC, datetime, time, timedelta

import pytest

from accounts.limits import LIMIT_FIELDS, effective_limits
from accounts.models import Plan
from accounts.services import custom_limits_set, plan_change
from servers.agents import sandbox_limits
from servers.cpu import FREE_SHARES, PAID_SHARES, TARPIT_SHARES, cpu_window_start
from servers.models import CpuAccount, CpuCounter, Server
from servers.selectors import cpu_today
from servers.services import CpuReading, cpu_usage_record
from tests.factories import ServerFactory, UserFactory

pytestmark = pytest.mark.django_db

JOINED = datetime(2026, 11, 1, 14, 37, 12, tzinfo=UTC)
S = 1_000_000  # microseconds in a second


@pytest.fixture
def server():
    return ServerFactory(kind=Server.Kind.CONSOLE, hostname="console-1")


@pytest.fixture
def alice():
    return UserFactory(username="alice", date_joined=JOINED)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# What each cgroup's cpu.shares holds, as its agent would report it: the kernel's default
# until a weight is sent (accounting compares what it wants with what the cgroup has).
KERNEL_DEFAULT_SHARES = 1024
weights: dict[tuple[int, str], int] = {}


@pytest.fixture(autouse=True)
def fresh_cgroups():
    weights.clear()


def readings_on(server, **usec) -> dict[str, CpuReading]:
    return {
        name: CpuReading(value, weights.get((server.pk, name), KERNEL_DEFAULT_SHARES))
        for name, value in usec.items()
    }


def record(server, now, **usec):
    """One accounting run; the weights it asks for are taken, as the agent would."""
    changes = cpu_usage_record(server=server, readings=readings_on(server, **usec), now=now)
    for change in changes:
        weights[(server.pk, change.user.username)] = change.shares
    return [(change.user.username, change.shares) for change in changes]


def reboot(server, username) -> None:
    """The cgroup is made again: the kernel's default weight (its counter restarts too)."""
    weights.pop((server.pk, username), None)


def account(user) -> CpuAccount:
    return CpuAccount.objects.get(user=user)


def test_a_window_starts_at_the_latest_reset_time_before_now():
    reset = time(14, 37)
    assert cpu_window_start(reset_time=reset, now=at(27, 15)) == at(27, 14, 37)
    assert cpu_window_start(reset_time=reset, now=at(27, 14, 37)) == at(27, 14, 37)
    assert cpu_window_start(reset_time=reset, now=at(27, 9)) == at(26, 14, 37)


def test_the_first_reading_is_a_starting_point_in_a_window_at_the_users_reset_time(server, alice):
    # A cgroup's total can hold weeks since boot: only what comes after is this day's.
    record(server, at(27, 16, 5), alice=5_000 * S)
    assert account(alice).used_usec == 0
    record(server, at(27, 16, 10), alice=5_037 * S)
    window = account(alice)
    assert window.reset_time == time(14, 37)
    assert window.window_start == at(27, 14, 37)
    assert window.used_usec == 37 * S
    # 16:10 is in the second hour after the 14:37 reset: that is where the chart shows it.
    assert window.hourly_usec[1] == 37 * S
    assert sum(window.hourly_usec) == 37 * S


def test_later_readings_add_only_the_difference(server, alice):
    record(server, at(27, 15), alice=10 * S)
    record(server, at(27, 15, 1), alice=12 * S)
    record(server, at(27, 15, 2), alice=12 * S)
    assert account(alice).used_usec == 2 * S


def test_a_counter_that_went_backwards_was_made_again_and_counts_from_zero(server, alice):
    record(server, at(27, 15), alice=50 * S)
    reboot(server, "alice")
    assert record(server, at(27, 15, 1), alice=3 * S) == [("alice", FREE_SHARES)]
    assert account(alice).used_usec == 3 * S


def test_each_server_counts_separately(server, alice):
    other = ServerFactory(kind=Server.Kind.TASK, hostname="task-1")
    record(server, at(27, 15), alice=10 * S)
    record(other, at(27, 15), alice=5 * S)
    record(server, at(27, 15, 1), alice=13 * S)
    record(other, at(27, 15, 1), alice=7 * S)
    assert account(alice).used_usec == 5 * S
    assert CpuCounter.objects.filter(user=alice).count() == 2


def test_free_users_get_300_paid_700_and_a_weight_is_sent_once(server, alice):
    UserFactory(username="payer", plan=Plan.objects.get(slug="hacker"))
    custom = UserFactory(username="custom")
    custom_limits_set(
        user=custom, **{f: getattr(effective_limits(custom), f) for f in LIMIT_FIELDS}
    )
    first = record(server, at(27, 15), alice=S, payer=S, custom=S)
    assert sorted(first) == [
        ("alice", FREE_SHARES),
        ("custom", PAID_SHARES),
        ("payer", PAID_SHARES),
    ]
    assert record(server, at(27, 15, 1), alice=2 * S, payer=2 * S, custom=2 * S) == []


def test_going_over_the_allowance_tarpits_until_the_reset(server, alice):
    allowance = effective_limits(alice).cpu_seconds_per_day  # Beginner: 100
    record(server, at(27, 15), alice=0)
    assert record(server, at(27, 16), alice=allowance * S) == []  # at the limit, not over
    assert record(server, at(27, 17), alice=(allowance + 1) * S) == [("alice", TARPIT_SHARES)]
    assert account(alice).tarpitted
    assert record(server, at(28, 14, 36), alice=(allowance + 50) * S) == []  # still today's

    assert record(server, at(28, 14, 38), alice=(allowance + 52) * S) == [("alice", FREE_SHARES)]
    window = account(alice)
    assert (window.tarpitted, window.window_start, window.used_usec) == (
        False,
        at(28, 14, 37),
        2 * S,
    )


def test_a_plan_upgraded_mid_day_lifts_the_tarpit_at_the_next_run(server, alice):
    record(server, at(27, 15), alice=0)
    assert record(server, at(27, 16), alice=150 * S) == [("alice", TARPIT_SHARES)]
    plan_change(user=alice, plan=Plan.objects.get(slug="hacker"))  # 2,000 CPU-seconds a day
    assert record(server, at(27, 16, 1), alice=150 * S) == [("alice", PAID_SHARES)]
    assert not account(alice).tarpitted


def test_a_quiet_minute_writes_nothing(server, alice, django_assert_num_queries):
    record(server, at(27, 15), alice=5 * S)
    with django_assert_num_queries(5):  # savepoint, 3 reads, release: no writes
        cpu_usage_record(
            server=server, readings=readings_on(server, alice=5 * S), now=at(27, 15, 1)
        )


def test_a_reading_older_than_the_recorded_one_is_skipped(server, alice):
    # Two overlapping runs: the later reading landed first; the earlier one must not be
    # taken for a counter that went backwards (which would count it all again).
    record(server, at(27, 15), alice=0)
    record(server, at(27, 15, 2), alice=20 * S)
    record(server, at(27, 15, 1), alice=10 * S)
    assert account(alice).used_usec == 20 * S


def test_a_weight_set_by_anything_else_is_put_back(server, alice):
    # A spawn without limits, a reboot, a hand-edited cgroup: the cgroup's own weight is
    # what is compared, so the next run corrects it, whoever changed it.
    record(server, at(27, 15), alice=0)
    weights[(server.pk, "alice")] = 700
    assert record(server, at(27, 15, 1), alice=S) == [("alice", FREE_SHARES)]
    assert record(server, at(27, 15, 2), alice=S) == []


def test_a_weight_the_agent_did_not_take_is_sent_again_next_minute(server, alice):
    cpu_usage_record(
        server=server, readings=readings_on(server, alice=S), now=at(27, 15)
    )  # not taken
    assert record(server, at(27, 15, 1), alice=S) == [("alice", FREE_SHARES)]


def test_readings_for_names_that_are_not_users_are_ignored(server, alice):
    record(server, at(27, 15), alice=S, bob=99 * S)
    assert list(CpuAccount.objects.values_list("user__username", flat=True)) == ["alice"]


def test_a_run_costs_the_same_queries_for_one_user_or_twenty(server, django_assert_num_queries):
    users = [UserFactory(username=f"user-{n:02}") for n in range(20)]
    record(server, at(27, 15), **{users[0].username: S})
    record(server, at(27, 15), **{u.username: S for u in users[1:]})
    with django_assert_num_queries(7) as one:
        cpu_usage_record(
            server=server,
            readings=readings_on(server, **{users[0].username: 2 * S}),
            now=at(27, 16),
        )
    with django_assert_num_queries(len(one.captured_queries)):
        cpu_usage_record(
            server=server,
            readings=readings_on(server, **{u.username: 2 * S for u in users}),
            now=at(27, 17),
        )


def test_today_is_empty_before_the_first_reading_and_after_the_reset(server, alice):
    empty = cpu_today(user=alice, now=at(27, 15))
    assert (empty.used_seconds, empty.allowance_seconds, empty.percent) == (0, 100, 0)
    assert empty.resets_at == at(28, 14, 37)
    record(server, at(27, 14, 50), alice=0)
    record(server, at(27, 15), alice=37 * S)
    today = cpu_today(user=alice, now=at(27, 16))
    assert (today.used_seconds, today.percent, today.hourly_seconds[0]) == (37, 37, 37)
    assert cpu_today(user=alice, now=at(28, 15)).used_seconds == 0


def test_new_sandboxes_start_with_the_users_weight(server, alice):
    assert sandbox_limits(alice)["cpu_shares"] == FREE_SHARES
    now = datetime.now(UTC)
    record(server, now - timedelta(minutes=1), alice=0)
    record(server, now, alice=101 * S)
    assert sandbox_limits(alice)["cpu_shares"] == TARPIT_SHARES
