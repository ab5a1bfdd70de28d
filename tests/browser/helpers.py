from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def wait_for(browser, condition, timeout: float = 10):
    return WebDriverWait(browser, timeout).until(condition)


def wait_for_text(browser, text: str, timeout: float = 10):
    return wait_for(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"), text), timeout)


def fill(browser, name: str, value: str):
    field = browser.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)
    return field


def submit(browser, label: str):
    browser.find_element(By.XPATH, f"//button[normalize-space()='{label}']").click()
