"""Time travel (hypothesis): random VAT rate changes, sign-ups, plan changes, cancellations and
late payments over simulated days, with both fake gateways charging as days pass and Warren
invoicing; after each nightly run, every live subscription outside PayPal's window (and not
between its invoice and its charge) will be charged exactly net x (1 + rate on its invoice date).
"""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from billing.invoicing import issue_due_invoices
from billing.models import BillingProfile, Subscription, VatRate
from billing.reconcile import reconciliation_run
from billing.vat import decide, split
from tests.factories import UserFactory
from tests.fakes.paypal import FakePayPal
from tests.fakes.stripe import FakeStripe

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
START = datetime.date(2031, 1, 1)
COUNTRIES = ["MT", "DE", "FR"]
RATES = ["17.00", "18.00", "19.00", "20.00", "21.00", "25.00"]
WINDOW_HOURS = 72

events = st.one_of(
    st.tuples(
        st.just("rate"), st.sampled_from(COUNTRIES), st.sampled_from(RATES), st.integers(0, 40)
    ),
    st.tuples(
        st.just("signup"),
        st.sampled_from(["stripe", "paypal"]),
        st.sampled_from(COUNTRIES),
        st.integers(1, 30),
        st.integers(100, 5000),
    ),
    st.tuples(st.just("plan"), st.integers(0, 50), st.integers(100, 5000)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("late"), st.integers(0, 50), st.integers(1, 9)),
)
# Each simulated day: the events of that day (most days have none).
timelines = st.lists(st.lists(events, max_size=2), min_size=20, max_size=70)


class Rollback(Exception):
    pass


@settings(
    max_examples=6,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(timeline=timelines)
def test_after_every_night_every_subscription_will_be_charged_the_vat_of_its_invoice_date(
    db, timeline
):
    stripe, paypal = FakeStripe().start(), FakePayPal().start()
    try:
        with (
            override_settings(
                WARREN_STRIPE_API_KEY=stripe.api_key,
                WARREN_STRIPE_API_BASE=stripe.url,
                WARREN_PAYPAL_CLIENT_ID=paypal.client_id,
                WARREN_PAYPAL_CLIENT_SECRET=paypal.secret,
                WARREN_PAYPAL_API_BASE=paypal.url,
                WARREN_PAYPAL_CHANGE_WINDOW_HOURS=WINDOW_HOURS,
                WARREN_GATEWAY_TIMEOUT_SECONDS=5,
            ),
            transaction.atomic(),
        ):
            Simulation(stripe, paypal).play(timeline)
            raise Rollback  # each example starts from the same database
    except Rollback:
        pass
    finally:
        stripe.stop()
        paypal.stop()


class Simulation:
    def __init__(self, stripe: FakeStripe, paypal: FakePayPal):
        self.stripe, self.paypal = stripe, paypal
        self.subscriptions: list[Subscription] = []
        self.late_until: dict[int, datetime.date] = {}  # index -> day their card works again

    def play(self, timeline):
        for offset, todays in enumerate(timeline):
            today = START + datetime.timedelta(days=offset)
            for event in todays:
                getattr(self, event[0])(today, *event[1:])
            for index, until in list(self.late_until.items()):
                if until <= today:
                    self._card(index, failing=False)
                    del self.late_until[index]
            # The day's charges at the gateways, Warren's invoices, then the night's run.
            self.stripe.advance_to(today)
            self.paypal.advance_to(today)
            issue_due_invoices(today=today)
            now = datetime.datetime.combine(today, datetime.time(2, 15), tzinfo=UTC)
            self.paypal.now = now
            run = reconciliation_run(today=today, now=now, nerfed=False)
            assert run.failed == 0, list(run.actions.values_list("reason", flat=True))
            self.check(today, now)

    # --- events ------------------------------------------------------------------------------

    def rate(self, today, country, rate, days_ahead):
        VatRate.objects.update_or_create(
            country=country,
            valid_from=today + datetime.timedelta(days=days_ahead),
            defaults={"rate": Decimal(rate)},
        )

    def signup(self, today, gateway, country, first_invoice_in, net):
        user = UserFactory()
        BillingProfile.objects.create(user=user, name=user.username, country=country)
        invoice_date = today + datetime.timedelta(days=first_invoice_in)
        decision = decide(country=country, confirmed_business=False, day=invoice_date)
        _, gross = split(net, decision)
        charge_date = invoice_date + datetime.timedelta(days=1)
        if gateway == "stripe":
            gateway_id = self.stripe.add_subscription(gross_minor=gross, period_end=charge_date)
        else:
            gateway_id = self.paypal.add_subscription(
                net_minor=net, tax_percentage=str(decision.rate), next_billing=charge_date
            )
        self.subscriptions.append(
            Subscription.objects.create(
                user=user,
                limits={},
                description="simulated",
                net_monthly_minor=net,
                currency="EUR",
                source=Subscription.Source.TRIAL,
                gateway=gateway,
                gateway_id=gateway_id,
                next_invoice_date=invoice_date,
            )
        )

    def _pick(self, index):
        return self.subscriptions[index % len(self.subscriptions)] if self.subscriptions else None

    def plan(self, today, index, net):
        # A new price at Warren; the gateway still has the old one until the run fixes it.
        subscription = self._pick(index)
        if subscription is not None:
            Subscription.objects.filter(pk=subscription.pk).update(net_monthly_minor=net)

    def cancel(self, today, index):
        subscription = self._pick(index)
        if subscription is None:
            return
        fake = self.stripe if subscription.gateway == "stripe" else self.paypal
        fake.cancel(subscription.gateway_id)
        Subscription.objects.filter(pk=subscription.pk).update(next_invoice_date=None)

    def late(self, today, index, days):
        if self.subscriptions:
            index %= len(self.subscriptions)
            self._card(index, failing=True)
            self.late_until[index] = today + datetime.timedelta(days=days)

    def _card(self, index, *, failing):
        subscription = self.subscriptions[index]
        if subscription.gateway == "stripe":
            customer = self.stripe.subscriptions[subscription.gateway_id]["customer"]
            (self.stripe.failing_cards.add if failing else self.stripe.failing_cards.discard)(
                customer
            )
        else:
            (self.paypal.failing.add if failing else self.paypal.failing.discard)(
                subscription.gateway_id
            )

    # --- the property ------------------------------------------------------------------------

    def check(self, today, now):
        for subscription in Subscription.objects.filter(gateway__in=["stripe", "paypal"]):
            invoice_date = subscription.next_invoice_date
            if invoice_date is None or invoice_date < today:
                continue  # cancelled
            if subscription.gateway == "stripe":
                sub = self.stripe.subscriptions[subscription.gateway_id]
                if sub["status"] != "active":
                    continue  # cancelled, or a late payer being retried
                charge_date, gross = (
                    self.stripe.period_end(subscription.gateway_id),
                    self.stripe.gross(subscription.gateway_id),
                )
            else:
                if self.paypal.subscriptions[subscription.gateway_id]["status"] != "ACTIVE":
                    continue
                charge_date = self.paypal.next_billing(subscription.gateway_id)
                gross = self.paypal.gross(subscription.gateway_id)
                charge_at = datetime.datetime.combine(charge_date, datetime.time(0), tzinfo=UTC)
                if charge_at - now < datetime.timedelta(hours=WINDOW_HOURS):
                    continue  # inside PayPal's window: deferred, listed by the run
            if charge_date < invoice_date:
                continue  # between the invoice and its charge, or paying late
            profile = BillingProfile.objects.get(user=subscription.user_id)
            decision = decide(country=profile.country, confirmed_business=False, day=invoice_date)
            assert gross == split(subscription.net_monthly_minor, decision)[1], (
                today,
                subscription.gateway,
                invoice_date,
                charge_date,
            )
