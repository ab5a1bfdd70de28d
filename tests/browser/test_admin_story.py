"""An operator opens the admin to help Alice: it says Warren, and her page leads to her things."""

import pytest
from selenium.webdriver.common.by import By

from consoles.models import Console
from consoles.services import console_start
from tests.browser.helpers import log_in_as, wait_for_text
from tests.factories import UserFactory, person

pytestmark = [pytest.mark.browser, pytest.mark.root]


def test_the_operator_finds_alices_consoles_from_her_user_page(site, browser, provisioned):
    alice = provisioned(person("alice"))
    console_start(owner=alice, kind=Console.Kind.BASH)
    console_start(owner=provisioned(person("bob")), kind=Console.Kind.BASH)
    operator = UserFactory(username="operator1", is_staff=True, is_superuser=True)

    log_in_as(browser, site, operator)
    browser.get(site.url + "/admin/")
    wait_for_text(browser, "Warren administration")
    assert browser.title == "Warren administration | Warren administration"

    browser.get(site.url + f"/admin/accounts/user/{alice.pk}/change/")
    wait_for_text(browser, "What this user has, for answering their questions.")
    wait_for_text(browser, "From the Beginner plan:")
    support = browser.find_element(By.CSS_SELECTOR, ".field-support_things")
    support.find_element(By.LINK_TEXT, "Consoles").click()
    wait_for_text(browser, "1 console")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1 and "alice" in rows[0].text
