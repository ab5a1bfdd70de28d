"""The last finished reconciliation's counts are on /metrics, read fresh at every scrape."""

import datetime

import pytest

from tests.billing.test_reconcile import TODAY, D, malta, run, stripe_customer  # noqa: F401
from tests.metrics.scraping import scraper, value

pytestmark = pytest.mark.django_db
COUNTS = "warren_billing_reconciliation_subscriptions"
FINISHED = "warren_billing_reconciliation_finished_timestamp_seconds"


@pytest.fixture
def scrape(settings):
    """Calling it scrapes /metrics/ with the token (metrics switched on for this test)."""
    return scraper(settings)


def test_no_run_yet_means_no_numbers(scrape):
    samples = scrape()
    assert not [key for key in samples if key[0] in (COUNTS, FINISHED)]


def test_the_last_runs_outcomes_are_shown(user, geoip, malta, fake_stripe, scrape):  # noqa: F811
    stripe_customer(fake_stripe, "s1", invoice_date=D(2030, 5, 10), gross=590)  # 18% -> 20%
    stripe_customer(fake_stripe, "s2", invoice_date=D(2030, 4, 30), gross=590)  # right
    done = run()
    samples = scrape()
    assert value(samples, COUNTS, outcome="checked") == 2
    assert value(samples, COUNTS, outcome="updated") == 1
    assert value(samples, COUNTS, outcome="correct") == 1
    assert value(samples, COUNTS, outcome="failed") == 0
    assert value(samples, FINISHED) == pytest.approx(done.finished_at.timestamp())
    # A later run replaces them: the stripe amount is now right.
    run(today=TODAY + datetime.timedelta(days=1))
    assert value(scrape(), COUNTS, outcome="updated") == 0
