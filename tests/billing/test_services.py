import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.limits import effective_limits
from accounts.models import GIB, CustomLimits, Plan, User
from billing.models import Evidence, PlanChange, Subscription, UnitPrices
from billing.pricing import CustomChoice, current_unit_prices
from billing.services import (
    ChoiceNeeded,
    billing_profile_save,
    net_price,
    subscription_change,
    subscription_grant,
)
from tests.billing.conftest import IP_IN
from webapps.models import WebApp

pytestmark = pytest.mark.django_db


@pytest.fixture
def french_alice(user, geoip):
    billing_profile_save(user=user, name="Alice", address="", country="FR", vat_number="")
    return user


def hacker():
    return Plan.objects.get(slug="hacker")


def custom(**overrides) -> CustomChoice:
    fields = {
        "cpu_seconds_per_day": 5000,
        "max_web_apps": 1,
        "max_web_workers_per_app": 2,
        "disk_gib": 3,
        "max_scheduled_tasks": 5,
        "custom_domains_allowed": False,
        "postgres_allowed": True,
    }
    return CustomChoice(**{**fields, **overrides})


def test_a_paid_plan_starts_as_a_trial_with_its_price_and_hooks(
    french_alice, settings, django_capture_on_commit_callbacks
):
    from accounts.signals import limits_changed

    settings.WARREN_BILLING_TRIAL_DAYS = 14
    seen = []

    def receiver(sender, *, user_id, **kwargs):
        seen.append(user_id)

    limits_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            subscription = subscription_change(
                user=french_alice, ip_address=IP_IN["FR"], plan=hacker(), quoted_net_minor=500
            )
    finally:
        limits_changed.disconnect(receiver)
    assert seen == [french_alice.pk]  # limits_changed (quota, ...) was sent, after commit
    assert subscription.source == Subscription.Source.TRIAL
    assert subscription.net_monthly_minor == 500
    assert subscription.next_invoice_date == timezone.localdate() + datetime.timedelta(days=14)
    french_alice.refresh_from_db()
    assert effective_limits(french_alice).plan_name == "Hacker"
    assert PlanChange.objects.get(user=french_alice).net_monthly_minor == 500


def test_custom_limits_are_sold_at_the_price_agreed(french_alice):
    choice = custom()
    price = net_price(choice=choice)
    subscription = subscription_change(
        user=french_alice, ip_address=IP_IN["FR"], choice=choice, quoted_net_minor=price
    )
    limits = CustomLimits.objects.get(user=french_alice)
    assert limits.disk_bytes == 3 * GIB and limits.postgres_allowed
    assert effective_limits(User.objects.get(pk=french_alice.pk)).is_custom
    # Staff raise a price later: what Alice agreed to is kept on her subscription.
    UnitPrices.objects.filter(pk=current_unit_prices().pk).update(per_gib_minor=500)
    subscription.refresh_from_db()
    assert subscription.net_monthly_minor == price != net_price(choice=choice)


def test_a_tampered_or_stale_price_changes_nothing(french_alice):
    with pytest.raises(ValidationError, match="price has changed"):
        subscription_change(
            user=french_alice, ip_address=IP_IN["FR"], plan=hacker(), quoted_net_minor=1
        )
    assert not Subscription.objects.filter(user=french_alice).exists()
    assert not Evidence.objects.exists()
    french_alice.refresh_from_db()
    assert french_alice.plan.slug == "beginner"


def test_the_free_plan_needs_no_address_or_evidence(user):
    subscription_change(
        user=user,
        ip_address="203.0.113.5",
        plan=Plan.objects.get(slug="beginner"),
        quoted_net_minor=0,
    )
    assert Subscription.objects.get(user=user).source == Subscription.Source.FREE
    assert not Evidence.objects.exists()


def test_staff_grant_a_paid_plan_with_no_gateway_and_no_charge(user, staff_user):
    subscription = subscription_grant(user=user, plan=hacker(), staff=staff_user)
    assert subscription.source == Subscription.Source.STAFF
    assert subscription.net_monthly_minor == 0 and subscription.next_invoice_date is None
    user.refresh_from_db()
    assert user.plan.slug == "hacker"
    assert PlanChange.objects.get(user=user).changed_by == staff_user


def _apps(user, count):
    return [
        WebApp.objects.create(
            user=user,
            domain=f"app{n}.{user.username}.example.com",
            framework="manual",
            python_version="3.11",
            working_dir=f"/home/{user.username}",
            workers=3,
        )
        for n in range(count)
    ]


def test_a_downgrade_over_limits_says_exactly_what_is_over_and_what_happens(french_alice):
    subscription_change(
        user=french_alice,
        ip_address=IP_IN["FR"],
        choice=custom(max_web_apps=3, max_web_workers_per_app=3, custom_domains_allowed=True),
        quoted_net_minor=net_price(
            choice=custom(max_web_apps=3, max_web_workers_per_app=3, custom_domains_allowed=True)
        ),
    )
    _apps(french_alice, 3)
    smaller = custom(cpu_seconds_per_day=2000)
    with pytest.raises(ChoiceNeeded) as caught:
        subscription_change(
            user=french_alice,
            ip_address=IP_IN["FR"],
            choice=smaller,
            quoted_net_minor=net_price(choice=smaller),
        )
    problems = [o.problem for o in caught.value.overages]
    assert "You have 3 web apps; the new plan allows 1." in problems
    assert "app0.alice.example.com has 3 workers; the new plan allows 2 per web app." in problems
    assert any("2,000 CPU-seconds" in p for p in problems)
    consequences = " ".join(o.consequence for o in caught.value.overages)
    assert "Nothing is deleted" in consequences and "tarpit" in consequences
    # Nothing changed until she agrees.
    assert CustomLimits.objects.get(user=french_alice).max_web_apps == 3


def test_a_confirmed_downgrade_disables_the_web_apps_not_kept_and_deletes_nothing(
    french_alice, django_capture_on_commit_callbacks
):
    apps = _apps(french_alice, 3)
    keep = apps[1]
    with django_capture_on_commit_callbacks(execute=True):
        subscription_change(
            user=french_alice,
            ip_address=IP_IN["FR"],
            choice=custom(),
            quoted_net_minor=net_price(choice=custom()),
            keep_web_app_ids=[keep.pk],
        )
    assert WebApp.objects.filter(user=french_alice).count() == 3
    assert list(WebApp.objects.filter(user=french_alice, enabled=True)) == [keep]


def test_keeping_more_web_apps_than_the_plan_allows_is_refused(french_alice):
    apps = _apps(french_alice, 3)
    with pytest.raises(ValidationError, match="keep at most that many"):
        subscription_change(
            user=french_alice,
            ip_address=IP_IN["FR"],
            choice=custom(),
            quoted_net_minor=net_price(choice=custom()),
            keep_web_app_ids=[apps[0].pk, apps[1].pk],
        )
    assert WebApp.objects.filter(user=french_alice, enabled=True).count() == 3
    assert not Subscription.objects.filter(user=french_alice).exists()


def test_keeping_someone_elses_web_app_is_refused(french_alice, outsider):
    _apps(french_alice, 2)
    theirs = _apps(outsider, 1)[0]
    with pytest.raises(ValidationError, match="your own web apps"):
        subscription_change(
            user=french_alice,
            ip_address=IP_IN["FR"],
            choice=custom(),
            quoted_net_minor=net_price(choice=custom()),
            keep_web_app_ids=[theirs.pk],
        )


def test_staff_grant_a_plan_from_the_admin(staff_client, user):
    from django.urls import reverse

    response = staff_client.post(
        reverse("admin:billing_subscription_add"), {"user": user.pk, "plan": hacker().pk}
    )
    assert response.status_code == 302
    assert Subscription.objects.get(user=user).source == Subscription.Source.STAFF
    user.refresh_from_db()
    assert user.plan.slug == "hacker"
