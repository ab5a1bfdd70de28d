"""A newcomer signs up, uploads two files, edits one, watches the usage bar move, deletes one."""

import secrets
import shutil

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.helpers import confirm_from_mail, fill_sign_up, submit, wait_for, wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.root]


# Headless Chromium shows no beforeunload dialog without a real user gesture; ask the page
# whether it would have one shown.
LEAVING_IS_WARNED = """
const event = new Event("beforeunload", {cancelable: true});
window.dispatchEvent(event);
return event.defaultPrevented;
"""


def usage_text(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, "#storage-usage .usage-text").text


def sign_up(site, browser, username: str, password: str) -> None:
    browser.get(site.url + "/accounts/signup/")
    fill_sign_up(browser, username, password)
    confirm_from_mail(site, browser)
    wait_for_text(browser, f"Welcome, {username}")


@pytest.fixture
def newcomer(exec_agent):
    username = f"filer-{secrets.token_hex(3)}"
    yield username
    for root in (exec_agent.homes, exec_agent.www):
        shutil.rmtree(root / username, ignore_errors=True)


def test_sign_up_upload_edit_save_see_usage_delete(
    local_servers, site, browser, newcomer, exec_agent, tmp_path
):
    home = exec_agent.homes / newcomer
    sign_up(site, browser, newcomer, "a long and unusual passphrase")

    # The dashboard already shows her disk space; her home exists with its README.
    wait_for_text(browser, "used of 512 MiB")
    assert (home / "README.txt").exists()

    # On the Files tab she sees her home and how little of it she uses.
    browser.find_element(By.LINK_TEXT, "Files").click()
    wait_for_text(browser, "README.txt")
    assert f"/home/{newcomer}" in browser.page_source
    used_before = usage_text(browser)

    # She uploads two files at once: a script and some data.
    script = tmp_path / "hello.py"
    script.write_text("print('hello')\n")
    data = tmp_path / "data.bin"
    data.write_bytes(secrets.token_bytes(3 * 1024 * 1024))
    upload = browser.find_element(By.CSS_SELECTOR, "#upload-form input[type=file]")
    upload.send_keys(f"{script}\n{data}")
    submit(browser, "Upload")
    wait_for_text(browser, "Uploaded 2 files: hello.py, data.bin.", timeout=30)
    assert (home / "data.bin").read_bytes() == data.read_bytes()
    used_after = usage_text(browser)
    assert used_after != used_before and "MiB used of 512 MiB" in used_after

    # She opens the script in the editor, changes it and saves with Ctrl-S.
    browser.find_element(By.LINK_TEXT, "hello.py").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".ace_content")))
    wait_for_text(browser, "print('hello')")
    typing = browser.find_element(By.CSS_SELECTOR, "#editor textarea.ace_text-input")
    typing.send_keys(Keys.CONTROL, Keys.END)
    typing.send_keys("print('edited in Warren')")
    wait_for_text(browser, "Unsaved changes")

    # Leaving now would lose the change, so the page asks the browser to warn her.
    assert browser.execute_script(LEAVING_IS_WARNED)
    typing.send_keys(Keys.CONTROL, "s")
    wait_for_text(browser, "Saved")
    assert (home / "hello.py").read_text() == "print('hello')\nprint('edited in Warren')"
    assert not browser.execute_script(LEAVING_IS_WARNED)
    assert (home / "hello.py").stat().st_uid == (home / "README.txt").stat().st_uid

    # Back in her home, she deletes the data file after confirming.
    browser.find_element(By.LINK_TEXT, "Back to the folder").click()
    wait_for_text(browser, "data.bin")
    row = browser.find_element(By.XPATH, "//tr[td/a[normalize-space()='data.bin']]")
    row.find_element(By.LINK_TEXT, "Delete").click()
    wait_for_text(browser, "Delete data.bin?")
    submit(browser, "Delete")
    wait_for_text(browser, "Deleted data.bin.")
    assert not (home / "data.bin").exists()
    assert "data.bin" not in browser.find_element(By.CSS_SELECTOR, "table.listing").text
    assert usage_text(browser) != used_after
