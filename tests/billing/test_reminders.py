import datetime
from decimal import Decimal

import pytest
from django.core import mail

from billing.models import Subscription, VatRate
from billing.reminders import reminders_send
from billing.tasks import send_reminders
from tests.billing.test_invoicing import subscribed

pytestmark = pytest.mark.django_db
D = datetime.date


def test_a_reminder_carries_the_rate_in_force_on_the_invoice_date(user, geoip, settings):
    """The seed's Malta example: 18% today, 20% from 1 May; the 1 May invoice is at 20%."""
    settings.WARREN_BILLING_REMINDER_DAYS = 3
    subscription = subscribed(user, country="DE")
    from billing.models import BillingProfile

    BillingProfile.objects.filter(user=user).update(country="MT")
    VatRate.objects.create(country="MT", rate=Decimal("20.00"), valid_from=D(2030, 5, 1))
    Subscription.objects.filter(pk=subscription.pk).update(next_invoice_date=D(2030, 5, 1))
    assert reminders_send(today=D(2030, 4, 27)) == 0  # four days ahead: not yet
    assert reminders_send(today=D(2030, 4, 28)) == 1
    [message] = mail.outbox
    assert message.to == [user.email]
    assert "01 May 2030" in message.body
    assert "VAT (20.00% for MT): EUR 1.00" in message.body
    assert "Total: EUR 6.00" in message.body
    # Once per invoice date, however often the beat job runs.
    assert reminders_send(today=D(2030, 4, 29)) == 0
    assert len(mail.outbox) == 1


def test_free_and_granted_plans_get_no_reminder(user, staff_user):
    from accounts.models import Plan
    from billing.services import subscription_grant

    subscription_grant(user=user, plan=Plan.objects.get(slug="hacker"), staff=staff_user)
    assert reminders_send(today=D(2030, 4, 28)) == 0


def test_the_beat_task_sends_them(user, geoip, settings):
    from django.utils import timezone

    settings.WARREN_BILLING_REMINDER_DAYS = 7
    settings.WARREN_BILLING_TRIAL_DAYS = 5
    subscribed(user, country="US")
    assert send_reminders.delay().get() == 1
    assert "VAT: not charged" in mail.outbox[0].body
    assert f"{timezone.localdate() + datetime.timedelta(days=5):%d %B %Y}" in mail.outbox[0].body
