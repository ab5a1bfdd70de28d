"""Alice opens Bash in her browser, comes back to it after a reload, and shows it to Bob."""

import os
import time

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from consoles import tmux
from consoles.models import Console
from servers.agents import execution_agent, user_ref
from tests.browser.helpers import log_in_as, screen, wait_for, wait_for_text
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]


def wait_for_terminal(browser) -> None:
    wait_for(browser, lambda b: b.execute_script("return document.body.dataset.consoleReady"), 15)


def wait_for_line(browser, line: str, timeout: float = 10) -> None:
    wait_for(browser, lambda b: line in [text.rstrip() for text in screen(b).split("\n")], timeout)


def type_into_terminal(browser, text: str) -> None:
    browser.find_element(By.ID, "terminal").click()
    browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(text)


def test_open_bash_reload_and_share_it_read_only(site, browser, provisioned):
    alice = provisioned(person("alice"))
    bob = provisioned(person("bob"))

    # Alice opens the Consoles tab and clicks Bash: a terminal opens with a prompt.
    log_in_as(browser, site, alice)
    browser.get(site.url + "/consoles/")
    browser.find_element(By.XPATH, "//button[normalize-space()='Bash']").click()
    wait_for_terminal(browser)
    wait_for(browser, lambda b: "$ " in screen(b), 15)
    console_url = browser.current_url

    # She runs echo hello and sees it answered.
    type_into_terminal(browser, "echo hello" + Keys.ENTER)
    wait_for_line(browser, "hello")

    # She reloads the page: the console is still there, with her output.
    browser.refresh()
    wait_for_terminal(browser)
    wait_for_line(browser, "hello")

    # She shares it with Bob, read-only.
    browser.find_element(By.CSS_SELECTOR, ".share-menu summary").click()
    browser.find_element(By.NAME, "username").send_keys("bob")
    browser.find_element(By.XPATH, "//form[@class='share-form']//button").click()
    wait_for_text(browser, "Shared with bob (read-only) if that user exists.")
    assert "bob (read-only)" in browser.find_element(By.CSS_SELECTOR, ".share-menu").get_attribute(
        "textContent"
    )

    # Bob finds it under "Consoles shared with you" and opens it: he sees Alice's screen...
    log_in_as(browser, site, bob)
    browser.get(site.url + "/consoles/")
    wait_for_text(browser, "Consoles shared with you")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Bash").click()
    assert browser.current_url == console_url
    wait_for_terminal(browser)
    wait_for_line(browser, "hello")
    assert "read-only" in browser.find_element(By.CSS_SELECTOR, ".console-bar").text

    # ...but what he types goes nowhere.
    type_into_terminal(browser, "echo intruder" + Keys.ENTER)
    time.sleep(1)
    assert "intruder" not in screen(browser)
    assert "intruder" not in tmux.capture(Console.objects.get(), lines=200)


def test_save_and_run_from_the_editor_shows_the_scripts_output(site, browser, provisioned):
    editor_path = reverse("files:edit", kwargs={"path": "home/alice/hello.py"})
    alice = provisioned(person("alice"))
    fd, _ = execution_agent().fs_open(user=user_ref(alice), path="hello.py", mode="w")
    os.write(fd, b"print('not saved yet')\n")
    os.close(fd)

    # Alice opens hello.py in the editor, changes it, and clicks Save and Run.
    log_in_as(browser, site, alice)
    browser.get(site.url + editor_path)
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".ace_editor"), 15)
    browser.execute_script(
        "ace.edit(document.querySelector('.ace_editor'))"
        ".setValue(\"print('saved and run', 6 * 7)\\n\", 1)"
    )
    browser.find_element(By.XPATH, "//button[normalize-space()='Save and Run']").click()

    # A console opens below the editor, in hello.py's folder, showing what the script printed.
    frame = wait_for(
        browser, lambda b: b.find_element(By.CSS_SELECTOR, "#save-and-run-panel iframe")
    )
    browser.switch_to.frame(frame)
    wait_for_line(browser, "saved and run 42", timeout=15)
    browser.switch_to.default_content()
    fd, _ = execution_agent().fs_open(user=user_ref(alice), path="hello.py", mode="r")
    try:
        assert os.read(fd, 1000) == b"print('saved and run', 6 * 7)\n"
    finally:
        os.close(fd)
