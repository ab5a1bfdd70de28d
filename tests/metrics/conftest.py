import pytest

from tests.metrics.scraping import scraper


@pytest.fixture
def scrape(settings):
    """Calling it scrapes /metrics/ with the token (metrics switched on for this test)."""
    return scraper(settings)
