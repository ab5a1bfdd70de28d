"""A user makes an API token on the Account tab, scripts with it, sees its last use, revokes it."""

import pytest
from selenium.webdriver.common.by import By

from tests.api.conftest import warren
from tests.browser.helpers import fill, log_in_as, submit, wait_for, wait_for_text
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_create_a_token_use_it_from_the_warren_command_and_revoke_it(site, browser):
    UserFactory(username="alice")
    log_in_as(browser, site, UserFactory._meta.model.objects.get(username="alice"))

    # On the Account tab Alice finds the API tokens card, with none yet.
    browser.get(site.url + "/account/")
    wait_for_text(browser, "You have no API tokens.")
    fill(browser, "name", "deploy script")
    submit(browser, "Create token")

    # The token is shown once, with how to use it.
    wait_for_text(browser, "this is the only time it is shown")
    token = browser.find_element(By.ID, "new-api-token").text
    assert token.startswith("wrn_")

    # Her script (the warren command) works with it.
    who = warren(site, token, "whoami")
    assert who.returncode == 0 and who.stdout.strip() == "alice", who.stderr
    assert warren(site, token, "tasks", "list").stdout.strip() == "No scheduled tasks."

    # Back on the Account tab: the token by its prefix only, and when it was last used.
    browser.find_element(By.LINK_TEXT, "Back to your account").click()
    wait_for_text(browser, "deploy script")
    row = browser.find_element(By.CSS_SELECTOR, "table.api-tokens tbody tr")
    assert token[:12] in row.text and token not in browser.page_source
    assert "never" not in row.find_elements(By.TAG_NAME, "td")[3].text

    # She revokes it; the script is refused from then on, and says why.
    submit(browser, "Revoke")
    wait_for_text(browser, "revoked")
    refused = warren(site, token, "whoami")
    assert refused.returncode == 1 and "(HTTP 401)" in refused.stderr

    # The API's docs page shows the operations (Swagger UI from the package, no CDN).
    browser.get(site.url + "/api/docs/")
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock-tag"), timeout=20)
    assert "consoles" in browser.page_source and "webapps" in browser.page_source
