"""Every page has Warren's icon, and the browser's request for /favicon.ico is answered."""

import pytest
from selenium.webdriver.common.by import By

from tests.browser.helpers import log_in_as, wait_for_text
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]

# What the browser gets for a URL: the final status and content type, after redirects.
FETCH_JS = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then(
  r => done([r.status, r.headers.get("content-type")]),
  e => done([0, String(e)]),
);
"""


def test_pages_show_the_icon_and_favicon_ico_is_never_a_404(site, browser, provisioned):
    alice = provisioned(person("alice"))
    browser.get(site.url + "/accounts/login/")
    wait_for_text(browser, "Sign In")
    log_in_as(browser, site, alice)
    browser.get(site.url + "/")
    wait_for_text(browser, f"Welcome, {alice.username}")

    icon = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    assert browser.execute_async_script(FETCH_JS, icon) == [200, "image/svg+xml"]
    status, kind = browser.execute_async_script(FETCH_JS, site.url + "/favicon.ico")
    assert status == 200 and kind in ("image/x-icon", "image/vnd.microsoft.icon")
    assert "Not Found: /favicon.ico" not in site.log()
