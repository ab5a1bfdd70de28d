"""Quota applies a file server did not take are counted on /metrics, by reason."""

import pytest

from files import tasks
from tests.metrics.scraping import scraper, value

pytestmark = [pytest.mark.root, pytest.mark.django_db]
FAILURES = "warren_quota_apply_failures_total"


@pytest.fixture
def scrape(settings):
    """Calling it scrapes /metrics/ with the token (metrics switched on for this test)."""
    return scraper(settings)


def test_a_quota_apply_to_a_stopped_file_server_is_counted(own_fileserver, scrape):
    user = own_fileserver.user_on_it("metered")
    tasks.home_create.apply(args=[user.pk])
    before = scrape()
    tasks.storage_quota_apply.apply(args=[user.pk])  # the agent answers: nothing counted
    assert value(scrape(), FAILURES, reason="unreachable") == value(
        before, FAILURES, reason="unreachable"
    )
    own_fileserver.stop()
    tasks.storage_quota_apply.apply(args=[user.pk])
    tasks.storage_quotas_reapply.apply(kwargs={"server_ids": [own_fileserver.server.pk]})
    after = scrape()
    assert (
        value(after, FAILURES, reason="unreachable") - value(before, FAILURES, reason="unreachable")
        == 2
    )


def test_a_refused_quota_apply_is_counted_as_refused(own_fileserver, scrape, settings):
    user = own_fileserver.user_on_it("refused")
    before = scrape()
    # Another secret than the agent's: every request is refused with 401.
    settings.WARREN_AGENT_SECRETS = ["not-the-agents-secret-0123456789"]
    tasks.storage_quota_apply.apply(args=[user.pk])
    after = scrape()
    assert value(after, FAILURES, reason="refused") - value(before, FAILURES, reason="refused") == 1
