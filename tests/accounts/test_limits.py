import pytest

from accounts.limits import effective_limits
from accounts.models import GIB, MIB, CustomLimits, Plan
from accounts.selectors import cheapest_plan_allowing
from accounts.services import custom_limits_clear, custom_limits_set, plan_change

pytestmark = pytest.mark.django_db


def test_the_three_plans_are_seeded_with_their_limits():
    plans = {plan.slug: plan for plan in Plan.objects.all()}
    beginner, hacker, webdev = plans["beginner"], plans["hacker"], plans["web-developer"]
    assert (beginner.cpu_seconds_per_day, beginner.max_consoles, beginner.max_web_apps) == (
        100,
        2,
        1,
    )
    assert (beginner.disk_bytes, beginner.max_scheduled_tasks) == (512 * MIB, 1)
    assert not beginner.postgres_allowed and not beginner.custom_domains_allowed
    assert beginner.is_free
    assert (hacker.cpu_seconds_per_day, hacker.max_consoles, hacker.disk_bytes) == (
        2000,
        None,
        2 * GIB,
    )
    assert hacker.max_web_workers_per_app == 2 and hacker.custom_domains_allowed
    assert (webdev.cpu_seconds_per_day, webdev.max_web_apps, webdev.disk_bytes) == (
        4000,
        3,
        5 * GIB,
    )
    assert webdev.max_web_workers_per_app == 3 and webdev.max_scheduled_tasks == 20


def test_a_new_user_has_the_beginner_plans_limits(user):
    limits = effective_limits(user)
    assert limits.plan_name == "Beginner"
    assert not limits.is_custom
    assert limits.cpu_seconds_per_day == 100
    assert limits.max_consoles == 2


def test_changing_plan_changes_the_effective_limits(user):
    plan_change(user=user, plan=Plan.objects.get(slug="hacker"))
    user.refresh_from_db()
    limits = effective_limits(user)
    assert limits.plan_name == "Hacker"
    assert limits.max_consoles is None
    assert limits.allows("max_consoles", 10_000)


def test_custom_limits_win_over_the_plan_until_cleared(user):
    custom_limits_set(
        user=user,
        cpu_seconds_per_day=10_000,
        max_consoles=5,
        max_web_apps=4,
        max_web_workers_per_app=6,
        disk_bytes=20 * GIB,
        max_scheduled_tasks=50,
        max_always_on_tasks=3,
        postgres_allowed=True,
        custom_domains_allowed=True,
        ssh_allowed=True,
    )
    user.refresh_from_db()
    limits = effective_limits(user)
    assert limits.is_custom and limits.plan_name == "Custom"
    assert (limits.cpu_seconds_per_day, limits.max_web_apps, limits.disk_bytes) == (
        10_000,
        4,
        20 * GIB,
    )
    assert not limits.allows("max_consoles", 6)
    assert limits.ssh_allowed  # the Beginner plan has no SSH; these limits do

    custom_limits_clear(user=user)
    user.refresh_from_db()
    assert effective_limits(user).plan_name == "Beginner"


def test_custom_limits_must_name_every_limit(user):
    with pytest.raises(TypeError, match="missing"):
        custom_limits_set(user=user, cpu_seconds_per_day=1)
    assert not CustomLimits.objects.filter(user=user).exists()


def test_limit_changes_run_their_hooks_after_commit(user, django_capture_on_commit_callbacks):
    from accounts.signals import limits_changed

    seen = []

    def receiver(sender, *, user_id, **kwargs):
        seen.append(user_id)

    limits_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            plan_change(user=user, plan=Plan.objects.get(slug="hacker"))
            assert seen == []
    finally:
        limits_changed.disconnect(receiver)
    assert seen == [user.pk]


def test_the_cheapest_plan_allowing_more_consoles_is_hacker():
    assert cheapest_plan_allowing(field="max_consoles", count=3).slug == "hacker"
    assert cheapest_plan_allowing(field="max_web_apps", count=2).slug == "web-developer"
    assert cheapest_plan_allowing(field="max_web_apps", count=99) is None


def test_uid_is_the_base_plus_the_primary_key(user, settings):
    assert user.uid == settings.WARREN_UID_BASE + user.pk
    assert user.home_path == "/home/alice"
