"""A newcomer signs up, confirms, turns on two-factor authentication, looks around, leaves."""

import secrets

import pytest
from django.contrib.sessions.backends.db import SessionStore
from selenium.webdriver.common.by import By

from tests.browser.helpers import (
    confirm_from_mail,
    fill,
    fill_sign_up,
    log_in_as,
    submit,
    wait_for_text,
)
from tests.factories import person
from tests.totp import totp_code

pytestmark = pytest.mark.browser


def test_sign_up_confirm_log_in_see_the_tabs_open_account_log_out(site, browser):
    username = f"newbie-{secrets.token_hex(3)}"
    password = "a long and unusual passphrase"

    # Nina opens Warren and is asked to sign in; she has no account, so she signs up.
    browser.get(site.url)
    assert "/accounts/login/" in browser.current_url
    browser.find_element(By.LINK_TEXT, "sign up").click()
    fill_sign_up(browser, username, password)

    # The confirmation mail has a link; she follows it and confirms.
    confirm_from_mail(site, browser)

    # She lands on her dashboard with every tab.
    wait_for_text(browser, f"Welcome, {username}")
    tabs = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "nav.tabs a")]
    assert tabs == [
        "Dashboard",
        "Consoles",
        "Files",
        "Web",
        "Tasks",
        "Databases",
        "Forums",
        "Account",
    ]

    # On the Account tab she sees her plan and turns on two-factor authentication.
    browser.find_element(By.LINK_TEXT, "Account").click()
    wait_for_text(browser, "Plan: Beginner")
    assert "CPU-seconds per day" in browser.page_source
    browser.find_element(By.LINK_TEXT, "Turn on two-factor authentication").click()
    wait_for_text(browser, "Two-Factor Authentication")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Activate").click()
    if "reauthenticate" in browser.current_url:
        fill(browser, "password", password)
        submit(browser, "Confirm")
    wait_for_text(browser, "Activate Authenticator App")
    secret = browser.find_element(By.ID, "authenticator_secret").get_attribute("value")
    fill(browser, "code", totp_code(secret))
    submit(browser, "Activate")
    wait_for_text(browser, "Recovery Codes")

    # Back on the Account tab, two-factor authentication is on.
    browser.find_element(By.LINK_TEXT, "Account").click()
    wait_for_text(browser, "Manage two-factor authentication")

    # She logs out and is back at the sign-in page.
    submit(browser, "Log out")
    wait_for_text(browser, "Sign In")
    browser.get(site.url + "/account/")
    assert "/accounts/login/" in browser.current_url


def test_confirming_the_next_day_still_signs_her_in(site, browser):
    username = f"later-{secrets.token_hex(3)}"
    browser.get(site.url + "/accounts/signup/")
    fill_sign_up(browser, username, "a long and unusual passphrase")

    # She reads the mail long after allauth's 15-minute sign-in window has closed (its
    # pending login is aged in her session, as the clock would have aged it).
    store = SessionStore(session_key=browser.get_cookie("sessionid")["value"])
    store["account_login"]["initiated_at"] -= 24 * 3600
    store.save()

    # Confirming still lands her on her dashboard, signed in, not on the login page.
    confirm_from_mail(site, browser)
    wait_for_text(browser, f"Welcome, {username}")
    assert "/accounts/login/" not in browser.current_url


@pytest.mark.root
def test_tabs_and_plans_promise_nothing_that_is_not_there(site, browser, provisioned):
    alice = provisioned(person("alice"))
    log_in_as(browser, site, alice)

    # Tasks and Databases are real tabs now, not promises.
    for tab, heading in (("Tasks", "Scheduled tasks"), ("Databases", "MySQL")):
        browser.get(site.url + "/account/")
        browser.find_element(By.LINK_TEXT, tab).click()
        wait_for_text(browser, heading)
        assert "Coming soon" not in browser.page_source

    # The plan tables on the Account page mark nothing as coming: everything listed is here.
    browser.get(site.url + "/account/")
    for row in browser.find_elements(By.CSS_SELECTOR, "#plans tr"):
        assert not row.text.endswith("coming"), row.text
