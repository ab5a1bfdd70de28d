"""The nightly reconciliation against the fake gateways: the seed's cases one by one, nerfed
mode, idempotence, outages, a worker stopped mid-run, and two runs at once."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache

from billing.gateways import gateway_for
from billing.models import ReconciliationAction, ReconciliationRun, Subscription, VatRate
from billing.reconcile import LOCK_KEY, reconciliation_run
from billing.tasks import reconcile_subscriptions
from tests.billing.test_invoicing import subscribed
from tests.factories import UserFactory
from tests.fakes.gateway_http import Reply

pytestmark = pytest.mark.django_db
D = datetime.date
UTC = datetime.UTC
TODAY = D(2030, 4, 20)
NOW = datetime.datetime(2030, 4, 20, 2, 15, tzinfo=UTC)
Outcome = ReconciliationAction.Outcome


@pytest.fixture
def malta():
    """The seed's example: Malta's VAT goes from 18% to 20% on 1 May."""
    VatRate.objects.create(country="MT", rate=Decimal("20.00"), valid_from=D(2030, 5, 1))


def customer(username, *, country="MT", gateway, gateway_id, invoice_date):
    """A paying customer (Billing I's hacker plan, 5.00 net) collected by ``gateway``."""
    from billing.models import BillingProfile

    user = UserFactory(username=username)
    subscription = subscribed(user, country="DE")
    BillingProfile.objects.filter(user=user).update(country=country)
    Subscription.objects.filter(pk=subscription.pk).update(
        gateway=gateway, gateway_id=gateway_id, next_invoice_date=invoice_date
    )
    return Subscription.objects.get(pk=subscription.pk)


def run(**kwargs):
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("nerfed", False)
    return reconciliation_run(**kwargs)


def counts(run_):
    return {
        k: getattr(run_, k)
        for k in ("checked", "correct", "updated", "deferred", "skipped", "failed")
    }


def stripe_customer(fake, username, *, invoice_date, gross, charge_date=None, country="MT"):
    sub_id = fake.add_subscription(
        gross_minor=gross, period_end=charge_date or invoice_date + datetime.timedelta(days=1)
    )
    return customer(
        username, country=country, gateway="stripe", gateway_id=sub_id, invoice_date=invoice_date
    ), sub_id


def paypal_customer(fake, username, *, invoice_date, percentage, charge_date=None):
    sub_id = fake.add_subscription(
        net_minor=500,
        tax_percentage=percentage,
        next_billing=charge_date or invoice_date + datetime.timedelta(days=1),
    )
    return customer(
        username, gateway="paypal", gateway_id=sub_id, invoice_date=invoice_date
    ), sub_id


def test_needs_an_update_the_new_rate_from_its_invoice_date(
    user, geoip, malta, fake_stripe, fake_paypal
):
    fake_paypal.set_clock(TODAY)
    _, stripe_id = stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 5, 10), gross=590)
    _, paypal_id = paypal_customer(
        fake_paypal, "p1", invoice_date=D(2030, 5, 10), percentage="18.00"
    )
    done = run()
    assert counts(done) == {
        "checked": 2,
        "correct": 0,
        "updated": 2,
        "deferred": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert fake_stripe.gross(stripe_id) == 600  # 5.00 + 20%
    assert fake_stripe.prorations[stripe_id] == "none"
    assert fake_paypal.gross(paypal_id) == 600
    assert fake_paypal.subscriptions[paypal_id]["plan"]["taxes"]["percentage"] == "20.00"
    actions = {a.gateway_id: a for a in done.actions.all()}
    assert actions[stripe_id].outcome == Outcome.UPDATED
    assert (actions[stripe_id].gateway_gross_minor, actions[stripe_id].expected_gross_minor) == (
        590,
        600,
    )
    assert actions[stripe_id].vat_rate == Decimal("20.00")


def test_correct_is_left_alone_and_only_counted(user, geoip, malta, fake_stripe):
    # Invoiced on 30 April, still at 18%: 5.90 is right.
    stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 4, 30), gross=590)
    done = run(gateways={"stripe": gateway_for("stripe")})
    assert counts(done)["correct"] == 1
    assert not done.actions.exists()
    assert fake_stripe.total_calls("POST") == 0


def test_cancelled_is_skipped(user, geoip, malta, fake_stripe):
    # Warren's next invoice is behind today (no more invoices), or the gateway cancelled it.
    _, stale = stripe_customer(
        fake_stripe, "s1", invoice_date=D(2030, 4, 1), gross=590, charge_date=D(2030, 5, 10)
    )
    _, cancelling = stripe_customer(fake_stripe, "s2", invoice_date=D(2030, 5, 10), gross=590)
    fake_stripe.subscriptions[cancelling]["cancel_at_period_end"] = True
    done = run(gateways={"stripe": gateway_for("stripe")})
    assert counts(done)["skipped"] == 2
    assert {a.reason[:9] for a in done.actions.all()} == {"Cancelled"}
    assert fake_stripe.total_calls("POST") == 0
    assert fake_stripe.gross(stale) == fake_stripe.gross(cancelling) == 590


def test_between_invoice_and_charge_and_late_payers_are_skipped(user, geoip, malta, fake_stripe):
    # Invoiced on 19 April (the next invoice is 19 May), to be charged on the 20th...
    stripe_customer(
        fake_stripe, "s1", invoice_date=D(2030, 5, 19), gross=590, charge_date=D(2030, 4, 20)
    )
    # ...and a delinquent one, whose card failed days ago and is retried.
    stripe_customer(
        fake_stripe, "s2", invoice_date=D(2030, 5, 14), gross=590, charge_date=D(2030, 4, 15)
    )
    done = run(gateways={"stripe": gateway_for("stripe")})
    assert counts(done)["skipped"] == 2
    assert all(a.reason.startswith("Between invoicing") for a in done.actions.all())
    assert fake_stripe.total_calls("POST") == 0


def test_paypal_inside_its_window_is_deferred_then_done_after_the_charge(user, geoip, fake_paypal):
    # The rate changes on 1 May; the invoice is on 22 April... no: the invoice is 1 May itself
    # and PayPal charges on 2 May. On 29 April PayPal is within 72 hours of that charge.
    VatRate.objects.create(country="MT", rate=Decimal("20.00"), valid_from=D(2030, 5, 1))
    subscription, sub_id = paypal_customer(
        fake_paypal, "p1", invoice_date=D(2030, 5, 1), percentage="18.00"
    )
    late = datetime.datetime(2030, 4, 29, 12, tzinfo=UTC)
    fake_paypal.now = late
    done = run(today=D(2030, 4, 29), now=late)
    assert counts(done)["deferred"] == 1
    [action] = done.actions.all()
    assert action.outcome == Outcome.DEFERRED
    # Charged 5.90 on 2 May where 6.00 was due: 0.10 to collect, listed for staff.
    assert action.difference_minor == 10
    assert fake_paypal.gross(sub_id) == 590
    assert fake_paypal.total_calls("PATCH") == 0  # the window is known: no call to be refused
    # 1 May: Warren invoices (next invoice 1 June); 2 May: PayPal charges the old amount.
    from billing.invoicing import invoice_issue

    invoice_issue(subscription_id=subscription.pk, today=D(2030, 5, 1))
    fake_paypal.advance_to(D(2030, 5, 2))
    assert fake_paypal.charged[sub_id] == [(D(2030, 5, 2), 590)]
    done = run(today=D(2030, 5, 3), now=datetime.datetime(2030, 5, 3, 2, tzinfo=UTC))
    assert counts(done)["updated"] == 1
    assert fake_paypal.gross(sub_id) == 600


def test_paypal_refusing_inside_a_window_we_did_not_know_of_is_a_deferral(
    user, geoip, malta, fake_paypal, settings
):
    settings.WARREN_PAYPAL_CHANGE_WINDOW_HOURS = 0  # we think there is none; PayPal says 72
    fake_paypal.set_clock(D(2030, 5, 9))
    _, sub_id = paypal_customer(fake_paypal, "p1", invoice_date=D(2030, 5, 10), percentage="18.00")
    done = run(today=D(2030, 5, 9), now=fake_paypal.now)
    assert fake_paypal.gross(sub_id) == 590
    assert counts(done)["deferred"] == 1
    assert "Refused for now" in done.actions.get().reason


def test_nerfed_records_what_it_would_do_and_writes_nothing(
    user, geoip, malta, fake_stripe, fake_paypal
):
    fake_paypal.set_clock(TODAY)
    _, stripe_id = stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 5, 10), gross=590)
    _, paypal_id = paypal_customer(
        fake_paypal, "p1", invoice_date=D(2030, 5, 10), percentage="18.00"
    )
    done = run(nerfed=True)
    assert done.nerfed and counts(done)["updated"] == 2
    assert {a.outcome for a in done.actions.all()} == {Outcome.WOULD_UPDATE}
    assert fake_stripe.total_calls("POST") == 0
    assert fake_paypal.total_calls("PATCH") == 0
    assert (fake_stripe.gross(stripe_id), fake_paypal.gross(paypal_id)) == (590, 590)


def test_a_second_run_changes_nothing(user, geoip, malta, fake_stripe, fake_paypal):
    fake_paypal.set_clock(TODAY)
    stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 5, 10), gross=590)
    paypal_customer(fake_paypal, "p1", invoice_date=D(2030, 5, 10), percentage="18.00")
    run()
    writes = fake_stripe.total_calls("POST") + fake_paypal.total_calls("PATCH")
    again = run()
    assert counts(again)["correct"] == 2 and counts(again)["updated"] == 0
    assert fake_stripe.total_calls("POST") + fake_paypal.total_calls("PATCH") == writes
    assert not again.actions.exists()


def test_a_gateway_500_mid_run_is_retried_next_run(user, geoip, malta, fake_stripe):
    _, first = stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 5, 10), gross=590)
    _, second = stripe_customer(fake_stripe, "s2", invoice_date=D(2030, 5, 10), gross=590)
    fake_stripe.fail_paths[f"/v1/subscriptions/{first}"] = Reply(
        500, {"error": {"type": "api_error", "message": "Something went wrong"}}
    )
    done = run(gateways={"stripe": gateway_for("stripe")})
    assert (done.updated, done.failed) == (1, 1)
    assert "retried next run" in done.actions.get(outcome=Outcome.FAILED).reason
    assert fake_stripe.gross(second) == 600 and fake_stripe.gross(first) == 590
    fake_stripe.fail_paths.clear()
    done = run(gateways={"stripe": gateway_for("stripe")})
    assert (done.updated, done.failed, done.correct) == (1, 0, 1)
    assert fake_stripe.gross(first) == 600


def test_a_list_that_times_out_fails_that_gateway_only(
    user, geoip, malta, fake_stripe, fake_paypal
):
    fake_paypal.set_clock(TODAY)
    stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 5, 10), gross=590)
    _, paypal_id = paypal_customer(
        fake_paypal, "p1", invoice_date=D(2030, 5, 10), percentage="18.00"
    )
    fake_stripe.hang_seconds = 2
    fake_stripe.failures.append("hang")
    done = run()
    assert (done.failed, done.updated) == (1, 1)
    assert done.actions.get(outcome=Outcome.FAILED).gateway_id == "(list)"
    assert fake_paypal.gross(paypal_id) == 600
    assert counts(run())["updated"] == 1  # Stripe's turn, the next night


class Stop(BaseException):
    """Stands for the worker being killed: nothing after it runs in this process."""


def test_a_run_stopped_mid_way_is_finished_by_the_next(user, geoip, malta, fake_stripe, settings):
    ids = [
        stripe_customer(fake_stripe, f"s{i}", invoice_date=D(2030, 5, 10), gross=590)[1]
        for i in range(4)
    ]
    gateway = gateway_for("stripe")
    real = gateway.amount_set
    done = []

    def dies_on_the_third(**kwargs):
        if len(done) == 2:
            raise Stop
        real(**kwargs)
        done.append(kwargs["gateway_id"])

    gateway.amount_set = dies_on_the_third
    with pytest.raises(Stop):
        run(gateways={"stripe": gateway})
    assert sum(fake_stripe.gross(i) == 600 for i in ids) == 2
    stopped = ReconciliationRun.objects.get()
    assert stopped.status == ReconciliationRun.Status.RUNNING
    # A killed worker never releases its lock: it lapses (WARREN_RECONCILE_LOCK_SECONDS).
    cache.add(LOCK_KEY, "dead-worker", 60)
    assert run() is None
    cache.delete(LOCK_KEY)  # the lapse
    finished = run(gateways={"stripe": gateway_for("stripe")})
    assert (finished.updated, finished.correct) == (2, 2)
    assert all(fake_stripe.gross(i) == 600 for i in ids)
    stopped.refresh_from_db()
    assert stopped.status == ReconciliationRun.Status.INTERRUPTED


def test_two_runs_never_overlap(user, geoip, fake_stripe):
    from config.locks import cache_lock

    with cache_lock(LOCK_KEY, timeout=60) as held:
        assert held
        assert run() is None
    assert not ReconciliationRun.objects.exists()


def test_unknown_currency_or_subscription_is_left_for_staff(user, geoip, malta, fake_stripe):
    stranger = fake_stripe.add_subscription(gross_minor=100, period_end=D(2030, 5, 11))
    dollars = fake_stripe.add_subscription(
        gross_minor=590, period_end=D(2030, 5, 11), currency="usd"
    )
    customer("s1", gateway="stripe", gateway_id=dollars, invoice_date=D(2030, 5, 10))
    done = run(gateways={"stripe": gateway_for("stripe")})
    assert (done.skipped, done.failed) == (1, 1)
    assert "Warren bills in EUR" in done.actions.get(gateway_id=dollars).reason
    assert done.actions.get(gateway_id=stranger).outcome == Outcome.SKIPPED
    assert fake_stripe.total_calls("POST") == 0


def test_the_beat_task_runs_with_the_configured_gateways(user, geoip, malta, fake_stripe, settings):
    settings.WARREN_RECONCILE_NERFED = True
    stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 5, 10), gross=590)
    run_id = reconcile_subscriptions()
    done = ReconciliationRun.objects.get(pk=run_id)
    assert done.nerfed and done.status == ReconciliationRun.Status.FINISHED
    assert done.checked == 1
    assert "billing-reconcile-subscriptions" in settings.CELERY_BEAT_SCHEDULE
