"""Alice leaves a long sleep running in a console, finds it on the Processes page and kills it."""

import time

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from consoles.models import Console
from tests.agents import process_running as running
from tests.browser.helpers import SCREEN_JS, log_in_as, wait_for, wait_for_text
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]


def sleep_row(browser):
    """The Processes table's row for ``sleep 600``, or None."""
    for row in browser.find_elements(By.CSS_SELECTOR, "table.processes tbody tr"):
        if row.find_element(By.TAG_NAME, "code").text == "sleep 600":
            return row
    return None


def test_kill_a_long_sleep_from_the_processes_page(site, browser, provisioned):
    alice = provisioned(person("alice"))

    # Alice opens Bash and starts a long sleep in it.
    log_in_as(browser, site, alice)
    browser.get(site.url + "/consoles/")
    browser.find_element(By.XPATH, "//button[normalize-space()='Bash']").click()
    wait_for(browser, lambda b: b.execute_script("return document.body.dataset.consoleReady"), 15)
    wait_for(browser, lambda b: "$ " in b.execute_script(SCREEN_JS), 15)
    browser.find_element(By.ID, "terminal").click()
    browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(
        "sleep 600" + Keys.ENTER
    )
    console = Console.objects.get(owner=alice)

    # Her Dashboard shows her CPU day, and its CPU card leads to her processes.
    browser.get(site.url + reverse("dashboard"))
    wait_for_text(browser, "of 100 seconds; resets in")
    browser.find_element(By.LINK_TEXT, "See your processes").click()
    wait_for(browser, lambda b: b.current_url.endswith(reverse("servers:processes")), 10)

    # On the Processes page she finds it, with the console it runs in.
    def sleep_listed(b):
        b.get(site.url + "/servers/processes/")
        return sleep_row(b)

    row = wait_for(browser, sleep_listed, 15)
    pid = int(row.get_attribute("data-pid"))
    assert running(pid)
    assert "Console: Bash" in row.text
    link = row.find_element(By.LINK_TEXT, "Console: Bash")
    assert link.get_attribute("href").endswith(console.get_absolute_url())

    # She clicks its Kill button: she is told what was sent, and the sleep ends.
    row.find_element(By.XPATH, ".//button[normalize-space()='Kill']").click()
    wait_for_text(browser, f"Sent SIGTERM to {pid}; SIGKILL follows in 5 s", 20)
    deadline = time.monotonic() + 15
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pid), f"sleep {pid} outlived SIGTERM and SIGKILL"

    # Reloaded, the page no longer lists it; the console's shell is still there.
    browser.get(site.url + "/servers/processes/")
    wait_for_text(browser, "Processes")
    assert sleep_row(browser) is None
    assert f'data-pid="{pid}"' not in browser.page_source
    assert "Console: Bash" in browser.find_element(By.CSS_SELECTOR, "table.processes").text


def test_the_processes_page_is_reached_from_the_consoles_tab_and_sits_under_it(
    site, browser, provisioned
):
    alice = provisioned(person("alice"))
    log_in_as(browser, site, alice)
    browser.get(site.url + "/consoles/")
    browser.find_element(By.LINK_TEXT, "See all your processes").click()
    wait_for(browser, lambda b: b.current_url.endswith(reverse("servers:processes")), 10)
    current = browser.find_elements(By.CSS_SELECTOR, "nav.tabs a[aria-current='page']")
    assert [tab.text for tab in current] == ["Consoles"]
