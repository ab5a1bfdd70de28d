"""Alice makes a Flask site from the Web tab, opens it, edits its WSGI file, reloads, sees it."""

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.helpers import fill, submit, wait_for, wait_for_text
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.root]

# Typed into Ace one key at a time: its auto-closed brackets and quotes are typed over.
NEW_APPLICATION = (
    'application = lambda environ, start: [start("200 OK", []), b"Changed in the editor"][1:]'
)


def test_create_a_flask_app_open_it_edit_the_wsgi_file_reload_see_the_change(
    web_front,
    site,
    browser,
    provisioned,
    password,
):
    alice = provisioned(UserFactory(username="alice"))
    port = web_front.port

    # Alice logs in and opens the Web tab: no web app yet, so it offers to make one.
    browser.get(site.url + "/accounts/login/")
    fill(browser, "login", alice.username)
    fill(browser, "password", password)
    submit(browser, "Sign In")
    # The dashboard must have loaded: a click while it still loads can be lost.
    wait_for_text(browser, f"Welcome, {alice.username}")
    browser.find_element(By.LINK_TEXT, "Web").click()
    wait_for_text(browser, "Add a new web app")

    # She picks Flask and Python 3.11, and creates the app.
    browser.find_element(By.XPATH, "//label[normalize-space()='Flask']").click()
    assert "3.11" in browser.find_element(By.NAME, "python_version").text
    submit(browser, "Create web app")
    wait_for_text(browser, "Reloaded", timeout=40)
    link = browser.find_element(By.ID, "site-link").get_attribute("href")
    assert link == f"http://alice.localhost:{port}/"

    # Her own address answers with the hello page (Chromium sends *.localhost to loopback).
    browser.get(link)
    wait_for_site(browser, web_front, "Hello from Flask!")

    # Back on the Web tab, the WSGI file opens in the editor; she replaces the application.
    browser.get(site.url + "/web/")
    browser.find_element(By.ID, "wsgi-file-link").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".ace_content")))
    typing = browser.find_element(By.CSS_SELECTOR, "#editor textarea.ace_text-input")
    typing.send_keys(Keys.CONTROL, Keys.END)
    typing.send_keys(Keys.ENTER, NEW_APPLICATION, Keys.ENTER)
    typing.send_keys(Keys.CONTROL, "s")
    wait_for_text(browser, "Saved")

    # She presses the big Reload button, which reports success...
    browser.get(site.url + "/web/")
    browser.find_element(By.ID, "reload-button").click()
    wait_for_text(browser, "Reloaded: the test request got HTTP 200", timeout=40)

    # ...and her site shows the change.
    browser.get(link)
    wait_for_site(browser, web_front, "Changed in the editor")


def wait_for_site(browser, front, text: str) -> None:
    """Wait for the site's text; on failure, say what the Emperor and nginx saw."""
    try:
        wait_for_text(browser, text)
    except TimeoutException:
        emperor = front.output("emperor")[-3000:]
        errors = (front.web_dir / "nginx" / "error.log").read_text()[-2000:]
        message = f"{text!r} not shown\n--- emperor\n{emperor}\n--- nginx\n{errors}"
        raise AssertionError(message) from None
