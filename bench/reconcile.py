"""The nightly VAT reconciliation over 100,000 subscriptions on the fake gateways (half each).

    python -m bench.reconcile        # BENCH_SUBSCRIPTIONS=100000, BENCH_NAIVE_SAMPLE=2000

Warren: ``billing.reconcile.reconciliation_run`` (each gateway's list page by page, matched to
Warren's rows a page at a time), first with nothing to change, then with 1% of subscriptions
on a new price. Anchor: the naive loop, one ``next_charge`` fetch per subscription, measured
in the same run on a sample (BENCH_NAIVE_SAMPLE, half each gateway) and extrapolated to all
of them; the output says so. Gateways are the local fake servers (tests/fakes), so wall time
is Warren's work plus a local HTTP round trip per call: a real gateway's latency multiplies
the call counts below. Peak memory: growth of the process's peak resident size during the
series (the fakes' state exists before; a series that stays under an earlier peak shows 0).
"""

import datetime
import os
import random
import resource
import sys
import tempfile
import time

N = int(os.environ.get("BENCH_SUBSCRIPTIONS", "100000"))
SAMPLE = int(os.environ.get("BENCH_NAIVE_SAMPLE", "2000"))


def setup_django() -> None:
    var = tempfile.mkdtemp(prefix="bench-reconcile-")
    os.environ["WARREN_VAR_DIR"] = var
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{var}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(stripe, paypal, today):
    from django.conf import settings

    from accounts.models import Plan, User
    from billing.models import BillingProfile, Subscription
    from billing.vat import decide, split

    plan = Plan.objects.get(slug="beginner")
    countries = ["DE", "FR", "MT", "NL", "IT"]
    users = User.objects.bulk_create(
        [User(username=f"bench{i}", email=f"bench{i}@example.com", plan=plan) for i in range(N)],
        batch_size=5000,
    )
    profiles, subscriptions = [], []
    decisions = {}
    for i, user in enumerate(users):
        country = countries[i % len(countries)]
        invoice_date = today + datetime.timedelta(days=5 + i % 25)
        net = 500 + (i % 7) * 100
        key = (country, invoice_date)
        if key not in decisions:
            decisions[key] = decide(country=country, confirmed_business=False, day=invoice_date)
        decision = decisions[key]
        _, gross = split(net, decision)
        charge = invoice_date + datetime.timedelta(days=1)
        if i % 2:
            gateway, gid = "stripe", stripe.add_subscription(gross_minor=gross, period_end=charge)
        else:
            gateway = "paypal"
            gid = paypal.add_subscription(
                net_minor=net, tax_percentage=str(decision.rate), next_billing=charge
            )
        profiles.append(BillingProfile(user=user, name=user.username, country=country))
        subscriptions.append(
            Subscription(
                user=user,
                limits={},
                description="bench",
                net_monthly_minor=net,
                currency=settings.WARREN_BILLING_CURRENCY,
                source=Subscription.Source.TRIAL,
                gateway=gateway,
                gateway_id=gid,
                next_invoice_date=invoice_date,
            )
        )
    BillingProfile.objects.bulk_create(profiles, batch_size=5000)
    Subscription.objects.bulk_create(subscriptions, batch_size=5000)


def measured(call):
    # Peak resident memory's growth over the call (tracemalloc would slow the run threefold).
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
    return result, seconds, peak


def main() -> None:
    sys.path.insert(0, os.getcwd())
    setup_django()
    import logging

    for name in ("stripe", "httpx", "billing"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from django.test import override_settings

    from billing.gateways import gateway_for
    from billing.models import Subscription
    from billing.reconcile import reconciliation_run
    from tests.fakes.paypal import FakePayPal
    from tests.fakes.stripe import FakeStripe

    stripe, paypal = FakeStripe().start(), FakePayPal().start()
    today = datetime.date.today()
    now = datetime.datetime.now(datetime.UTC)
    paypal.now = now
    started = time.perf_counter()
    populate(stripe, paypal, today)
    print(
        f"setup: {N} subscriptions ({N // 2} Stripe, {N - N // 2} PayPal) in "
        f"{time.perf_counter() - started:.1f}s"
    )
    with override_settings(
        WARREN_STRIPE_API_KEY=stripe.api_key,
        WARREN_STRIPE_API_BASE=stripe.url,
        WARREN_PAYPAL_CLIENT_ID=paypal.client_id,
        WARREN_PAYPAL_CLIENT_SECRET=paypal.secret,
        WARREN_PAYPAL_API_BASE=paypal.url,
    ):
        rows = []

        def warren():
            return reconciliation_run(today=today, now=now, nerfed=False)

        run, seconds, peak = measured(warren)
        rows.append(("Warren, nothing to change", run, seconds, peak))
        # 1% on a new price at Warren: the gateways still charge the old one.
        ids = list(Subscription.objects.values_list("pk", flat=True))
        changed = random.Random(1).sample(ids, N // 100)
        for chunk in range(0, len(changed), 900):
            Subscription.objects.filter(pk__in=changed[chunk : chunk + 900]).update(
                net_monthly_minor=1234
            )
        run, seconds, peak = measured(warren)
        rows.append(("Warren, 1% to change", run, seconds, peak))

        # The anchor: one fetch per subscription, on a sample, extrapolated.
        sample = list(
            Subscription.objects.filter(gateway="stripe").values_list("gateway_id", flat=True)[
                : SAMPLE // 2
            ]
        ) + list(
            Subscription.objects.filter(gateway="paypal").values_list("gateway_id", flat=True)[
                : SAMPLE // 2
            ]
        )
        gateways = {"stripe": gateway_for("stripe"), "paypal": gateway_for("paypal")}

        def naive():
            for n, gid in enumerate(sample):
                gateways["stripe" if n < SAMPLE // 2 else "paypal"].next_charge(gid)

        _, naive_seconds, naive_peak = measured(naive)
        naive_calls = sum(g.calls for g in gateways.values())

    print(
        f"{'series':32} {'wall s':>8} {'calls':>8} {'calls/sub':>10} {'+peak MiB':>9} "
        f"{'updated':>8}"
    )
    for name, run, seconds, peak in rows:
        print(
            f"{name:32} {seconds:8.1f} {run.gateway_calls:8d} {run.gateway_calls / N:10.4f} "
            f"{peak / 2**20:9.1f} {run.updated:8d}"
        )
    scale = N / len(sample)
    print(
        f"{'naive fetch per sub (extrap.)':32} {naive_seconds * scale:8.1f} "
        f"{int(naive_calls * scale):8d} {naive_calls / len(sample):10.4f} "
        f"{naive_peak / 2**20:9.1f} {'-':>8}"
    )
    print(
        f"anchor measured on {len(sample)} subscriptions ({naive_seconds:.1f}s) and "
        f"extrapolated x{scale:.0f}; its write phase not counted"
    )
    quiet = rows[0][2]
    print(
        f"ratio (naive / Warren, nothing to change): wall {naive_seconds * scale / quiet:.1f}x, "
        f"calls {naive_calls * scale / rows[0][1].gateway_calls:.1f}x"
    )
    print("calls per page: Stripe 100 subscriptions, PayPal 20 (its largest page)")
    stripe.stop()
    paypal.stop()


if __name__ == "__main__":
    main()
