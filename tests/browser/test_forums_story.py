"""Alice asks for help in the forums, Bob answers, a spammer's reply is held by Akismet (the
akismet package's offline client, spam for its test author) until an operator publishes it
from the admin's moderation queue, and Alice is mailed about each reply."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from forums.models import Category, Post, Status
from tests.browser.helpers import fill, log_in_as, submit, wait_for_text
from tests.factories import UserFactory
from tests.fakes.akismet import GUARANTEED_SPAM_AUTHOR

pytestmark = pytest.mark.browser


def _page_text(browser) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def test_post_reply_and_an_operator_publishes_a_held_reply(site, browser):
    Category.objects.create(name="Help", slug="help", description="Questions and answers")
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob", date_joined=timezone.now() - timedelta(days=90))
    spammer = UserFactory(username=GUARANTEED_SPAM_AUTHOR)
    operator = UserFactory(username="operator1", is_staff=True, is_superuser=True)

    # Alice opens a topic from the Forums tab.
    log_in_as(browser, site, alice)
    browser.get(site.url + "/")
    browser.find_element(By.LINK_TEXT, "Forums").click()
    browser.find_element(By.LINK_TEXT, "Help").click()
    browser.find_element(By.LINK_TEXT, "New topic").click()
    fill(browser, "title", "Flask app says 502")
    fill(
        browser,
        "body",
        "My app fails:\n\n```python\nimport flask\n```\n\n<script>alert(1)</script>",
    )
    submit(browser, "Post topic")
    wait_for_text(browser, "Flask app says 502")
    assert browser.find_elements(By.CSS_SELECTOR, ".codehilite span.kn")  # highlighted
    assert browser.find_elements(By.CSS_SELECTOR, ".post-body script") == []
    assert "<script>alert(1)</script>" in _page_text(browser)  # shown as text, inert
    topic_url = browser.current_url

    # The spammer's reply is held: he sees it marked, nobody else sees it.
    log_in_as(browser, site, spammer)
    browser.get(topic_url)
    fill(browser, "body", "Buy cheap hosting at spam.example")
    submit(browser, "Post reply")
    wait_for_text(browser, "Held for moderation")
    held = Post.objects.get(author=spammer)
    assert held.status == Status.HELD

    # Bob sees Alice's question but not the spam, and replies.
    log_in_as(browser, site, bob)
    browser.get(topic_url)
    wait_for_text(browser, "My app fails:")
    assert "cheap hosting" not in _page_text(browser)
    fill(browser, "body", "Check the **error log** in the Web tab.")
    submit(browser, "Post reply")
    wait_for_text(browser, "error log")
    assert "Pending" not in _page_text(browser)  # ham: published at once
    assert "bob replied to “Flask app says 502”" in site.log()

    # The operator finds the held reply in the admin's queue and publishes it (a false
    # positive, as far as this story goes).
    log_in_as(browser, site, operator)
    browser.get(site.url + "/admin/forums/heldpost/")
    wait_for_text(browser, "Buy cheap hosting")
    browser.find_element(
        By.CSS_SELECTOR, f"input[name='_selected_action'][value='{held.pk}']"
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("mark_ham")
    browser.find_element(By.NAME, "index").click()
    wait_for_text(browser, "Published 1 post(s).")
    assert "Buy cheap hosting" not in _page_text(browser)  # out of the queue

    # Now Bob sees it too.
    log_in_as(browser, site, bob)
    browser.get(topic_url)
    wait_for_text(browser, "Buy cheap hosting at spam.example")
    held.refresh_from_db()
    assert held.status == Status.PUBLISHED
