"""Alice mistypes an address: the page says so in Warren's own layout and leads her back."""

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from tests.browser.helpers import log_in_as, wait_for, wait_for_text
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]


def test_a_mistyped_address_shows_the_site_and_a_way_back(site, browser, provisioned):
    alice = provisioned(person("alice"))
    log_in_as(browser, site, alice)
    browser.get(site.url + "/flies/")
    wait_for_text(browser, "Page not found")
    tabs = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "nav.tabs a")]
    assert "Files" in tabs
    browser.find_element(By.LINK_TEXT, "Back to your dashboard").click()
    wait_for(browser, lambda b: b.current_url == site.url + reverse("dashboard"))
    wait_for_text(browser, f"Welcome, {alice.username}")

    # Signed out, the same page offers the way in instead.
    browser.delete_all_cookies()
    browser.get(site.url + "/flies/")
    wait_for_text(browser, "Page not found")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Sign in to").click()
    wait_for_text(browser, "Sign In")
