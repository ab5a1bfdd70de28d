"""At her plan's web app limit, Alice is shown the limit and where to upgrade, not a button."""

import pytest
from selenium.webdriver.common.by import By

from tests.browser.helpers import log_in_as, wait_for_text
from tests.factories import UserFactory
from webapps.models import WebApp

pytestmark = pytest.mark.browser


def test_at_the_web_app_limit_the_page_shows_the_limit_and_the_way_to_more(site, browser):
    alice = UserFactory(username="alice")  # Beginner: one web app
    app = WebApp.objects.create(
        user=alice, domain="alice.localhost", framework="manual", python_version="3.11",
        working_dir="/home/alice",
    )  # fmt: skip
    log_in_as(browser, site, alice)

    # Her app's page offers no "Add a new web app": it says what the plan allows instead.
    browser.get(f"{site.url}/web/{app.pk}/")
    wait_for_text(
        browser, "Your plan (Beginner) allows 1 web app; the Web Developer plan allows 3."
    )
    assert not browser.find_elements(By.LINK_TEXT, "Add a new web app")

    # The link leads to the plans on her Account tab.
    browser.find_element(By.ID, "webapps-upgrade-link").click()
    wait_for_text(browser, "Plans")
    assert browser.current_url.endswith("/account/#plans")
    assert browser.find_element(By.ID, "plans").is_displayed()
