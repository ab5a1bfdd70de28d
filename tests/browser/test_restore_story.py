"""Alice deleted a chapter of her thesis today; she gets it back from last night's copy."""

import os

import pytest
from selenium.webdriver.common.by import By

from tests.browser.helpers import log_in_as, wait_for_text
from tests.files.conftest import put
from tests.files.fileservers import backed_up_fileserver

pytestmark = [pytest.mark.browser, pytest.mark.root]


@pytest.fixture
def backed_up(exec_agent, tmp_path, transactional_db):
    with backed_up_fileserver(exec_agent, tmp_path) as agent:
        yield agent


def test_a_deleted_file_comes_back_from_last_nights_copy(site, browser, backed_up, exec_agent):
    alice = backed_up.user("alice")
    home = exec_agent.homes / "alice"
    put(home / "thesis" / "chapter1.md", "# It was a dark and stormy night\n", alice)
    backed_up.back_up(alice)
    os.unlink(home / "thesis" / "chapter1.md")

    log_in_as(browser, site, alice)
    browser.get(site.url + "/files/browse/home/alice/thesis/")
    wait_for_text(browser, "This folder is empty.")
    browser.find_element(By.LINK_TEXT, "Last night's copy of this folder").click()
    wait_for_text(browser, "chapter1.md")

    # She keeps the suggested name, so today's folder gets the chapter beside nothing.
    row = browser.find_element(By.XPATH, "//tr[td[contains(., 'chapter1.md')]]")
    field = row.find_element(By.NAME, "name")
    assert field.get_attribute("value") == "chapter1 (restored).md"
    field.clear()
    field.send_keys("chapter1.md")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    wait_for_text(
        browser, "Restored chapter1.md from last night's copy as /home/alice/thesis/chapter1.md."
    )
    assert "chapter1.md" in browser.find_element(By.CSS_SELECTOR, "table.listing").text
    assert (home / "thesis" / "chapter1.md").read_text() == "# It was a dark and stormy night\n"
    assert (home / "thesis" / "chapter1.md").stat().st_uid == alice.uid

    # Restoring it again under the same name is refused, with the reason, and nothing changes.
    browser.get(site.url + "/files/last-night/home/alice/thesis/")
    row = browser.find_element(By.XPATH, "//tr[td[contains(., 'chapter1.md')]]")
    field = row.find_element(By.NAME, "name")
    field.clear()
    field.send_keys("chapter1.md")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(browser, "Something already has that name")
