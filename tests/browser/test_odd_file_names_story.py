"""Alice's console made files whose names the Files tab would refuse (a newline, bytes that are
not UTF-8, only spaces): she still sees each one on the Files tab and deletes them there."""

import os

import pytest
from selenium.webdriver.common.by import By

from tests.browser.helpers import log_in_as, submit, wait_for_text
from tests.factories import person
from tests.files.conftest import put

pytestmark = [pytest.mark.browser, pytest.mark.root]

ODD = {
    "two\nlines.txt": "“two\\nlines.txt”",
    os.fsdecode(b"caf\xe9.txt"): "“caf\\xe9.txt”",
    "   ": "“   ”",
}


def row_named(browser, shown: str):
    for row in browser.find_elements(By.CSS_SELECTOR, "table.listing tbody tr"):
        if row.find_element(By.CSS_SELECTOR, "td").text.startswith(shown):
            return row
    return None


def test_files_a_console_named_oddly_are_shown_and_deleted_from_the_files_tab(
    site, browser, provisioned, exec_agent
):
    alice = provisioned(person("alice"))
    home = exec_agent.homes / alice.username
    for name in ODD:
        put(home / name, "made in a console", alice)
    log_in_as(browser, site, alice)

    # Refused as a new name, with a reason, and nothing is made.
    browser.get(site.url + f"/files/browse/home/{alice.username}/")
    browser.find_element(By.NAME, "name").send_keys("   ")
    submit(browser, "New file")
    wait_for_text(browser, "A name cannot be only spaces.")

    for name, shown in ODD.items():
        browser.get(site.url + f"/files/browse/home/{alice.username}/")
        row = row_named(browser, shown)
        assert row is not None, f"{shown} is not listed"
        row.find_element(By.LINK_TEXT, "Delete").click()
        wait_for_text(browser, "This cannot be undone.")
        submit(browser, "Delete")
        # (The message is ordinary text: the browser shows a run of spaces as one.)
        wait_for_text(browser, " ".join(f"Deleted {shown}.".split()))
        assert not (home / name).exists()
    assert (home / "README.txt").exists()
