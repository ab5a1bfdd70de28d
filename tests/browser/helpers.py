import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def wait_for(browser, condition, timeout: float = 10):
    return WebDriverWait(browser, timeout).until(condition)


BODY_TEXT_JS = "return document.body ? document.body.innerText : '';"


def wait_for_text(browser, text: str, timeout: float = 10):
    # Read the text in one script rather than find-then-read: while a form's POST navigates,
    # the body found can leave the document before its text is read (an inspector error).
    return wait_for(browser, lambda b: text in (b.execute_script(BODY_TEXT_JS) or ""), timeout)


def fill(browser, name: str, value: str):
    field = browser.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)
    return field


def submit(browser, label: str):
    browser.find_element(By.XPATH, f"//button[normalize-space()='{label}']").click()


# The visible lines of the page's xterm.js terminal (window.warrenTerminal).
SCREEN_JS = """
const buffer = window.warrenTerminal ? window.warrenTerminal.buffer.active : null;
if (!buffer) return "";
const lines = [];
for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
return lines.join("\\n");
"""


def screen(browser) -> str:
    return browser.execute_script(SCREEN_JS)


def log_in_as(browser, site, user) -> None:
    """Log ``user`` in by cookie (the login form has its own story)."""
    from tests.consoles.conftest import session_cookie

    browser.delete_all_cookies()
    browser.get(site.url + "/accounts/login/")
    value = session_cookie(user).decode().split("=", 1)[1]
    browser.add_cookie({"name": "sessionid", "value": value, "path": "/"})


def fill_sign_up(browser, username: str, password: str) -> None:
    """On the sign-up page: fill it in, send it, and wait to be asked to verify the email."""
    fill(browser, "username", username)
    fill(browser, "email", f"{username}@example.com")
    fill(browser, "password1", password)
    fill(browser, "password2", password)
    submit(browser, "Sign Up")
    wait_for_text(browser, "Verify Your Email Address")


def confirm_from_mail(site, browser) -> None:
    """Follow the confirmation link the (console) mail carried, and confirm."""
    link = None
    for _ in range(50):
        link = site.link_in_mail("/accounts/confirm-email/")
        if link:
            break
        time.sleep(0.1)
    assert link, "no confirmation link was mailed"
    browser.get(site.url + link)
    submit(browser, "Confirm")
