"""Alice's console page fits her screen, on a laptop and on a phone: the bar with Share and
Kill stays inside the page, and the share form's username box and mode menu are usable."""

import os
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from consoles.models import Console
from consoles.services import console_start
from tests.browser.helpers import log_in_as, wait_for
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]

# Where the screenshots go, for a person to look at (WARREN_BROWSER_ARTIFACTS, as failures).
SHOTS = Path(os.environ.get("WARREN_BROWSER_ARTIFACTS", "/tmp/warren-browser-failures"))

BOX_JS = """
const box = arguments[0].getBoundingClientRect();
return {left: box.left, right: box.right, width: box.width};
"""


def box(browser, css: str) -> dict:
    return browser.execute_script(BOX_JS, browser.find_element(By.CSS_SELECTOR, css))


def viewport_width(browser) -> float:
    return browser.execute_script("return document.documentElement.clientWidth")


def widest_overflow(browser) -> float:
    """How far the page's widest element reaches past the viewport's right edge (0: none)."""
    return browser.execute_script(
        """
        const width = document.documentElement.clientWidth;
        let worst = 0;
        for (const el of document.querySelectorAll('body *')) {
          const box = el.getBoundingClientRect();
          if (box.width && box.height) worst = Math.max(worst, box.right - width);
        }
        return worst;
        """
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["laptop", "phone"])
def test_the_console_bar_and_share_form_fit_the_screen(site, browser, provisioned, width, height):
    alice = provisioned(person("alice"))
    console = console_start(owner=alice, kind=Console.Kind.BASH)
    log_in_as(browser, site, alice)
    browser.set_window_size(width, height)
    browser.get(site.url + console.get_absolute_url())
    wait_for(browser, lambda b: b.execute_script("return document.body.dataset.consoleReady"), 15)
    browser.find_element(By.CSS_SELECTOR, ".share-menu summary").click()
    wait_for(browser, lambda b: b.find_element(By.NAME, "username").is_displayed())
    time.sleep(0.5)  # let the menu settle before the picture is taken
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"console-share-{width}.png"))

    viewport = viewport_width(browser)
    assert widest_overflow(browser) <= 1, "something runs off the right edge"
    kill = box(browser, ".console-bar form button")
    assert kill["right"] <= viewport and kill["width"] > 30
    username = box(browser, ".share-form input[name=username]")
    mode = box(browser, ".share-form select[name=mode]")
    assert username["width"] >= 120 and mode["width"] >= 100
    assert username["right"] <= viewport and mode["right"] <= viewport
    # Wide screens keep the page's margins rather than running edge to edge.
    if width >= 1280:
        assert box(browser, ".console-bar h1")["left"] >= 16
    assert Console.objects.filter(owner=alice).count() == 1
