"""Alice's console page rides out a restart of the ASGI server: it reconnects by itself."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.helpers import log_in_as, screen, wait_for
from tests.browser.test_consoles_story import type_into_terminal, wait_for_line, wait_for_terminal
from tests.factories import person
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.root]


class Restartable:
    """A live server that can be stopped and started again on the same port."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.server = LiveServer(tmp_path)
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = LiveServer(self.tmp_path, port=self.server.port)


@pytest.fixture
def restartable(transactional_db, django_db_serialized_rollback, tmp_path):
    site = Restartable(tmp_path)
    try:
        yield site
    finally:
        site.stop()


def status_text(browser) -> str:
    return browser.find_element(By.ID, "terminal-status").get_attribute("textContent")


def test_the_console_reconnects_after_the_server_restarts(restartable, browser, provisioned):
    alice = provisioned(person("alice"))
    log_in_as(browser, restartable, alice)
    browser.get(restartable.url + "/consoles/")
    browser.find_element(By.XPATH, "//button[normalize-space()='Bash']").click()
    wait_for_terminal(browser)
    wait_for(browser, lambda b: "$ " in screen(b), 15)
    type_into_terminal(browser, "echo before-$((40+1))" + Keys.ENTER)
    wait_for_line(browser, "before-41")

    # The server goes away (a deploy): the page says it is reconnecting, and keeps trying.
    restartable.stop()
    wait_for(browser, lambda b: "Reconnecting" in status_text(b), 15)

    # It is back: without a reload, the terminal is live again and the console kept running.
    restartable.start()
    wait_for_terminal(browser)
    assert "Reconnecting" not in status_text(browser)
    type_into_terminal(browser, "echo after-$((40+2))" + Keys.ENTER)
    wait_for_line(browser, "after-42")
    wait_for_line(browser, "before-41")
