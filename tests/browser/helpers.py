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
