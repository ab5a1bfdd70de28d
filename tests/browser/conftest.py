"""Real-browser stories: headless Debian Chromium driven by Selenium against a live server.

Set WARREN_LIVE_URL (and WARREN_LIVE_LOG, the file the server's output goes to) to run the
stories against an already running Warren, such as the one the run command starts.
"""

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.live import LiveServer, find_link
from tests.ssh.gateway import gateway_account, gateway_dir, ssh_agent  # noqa: F401 - fixtures

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Site:
    """Where the story happens, and where its mail lands."""

    def __init__(self, url: str, read_log):
        self.url = url
        self._read_log = read_log

    def link_in_mail(self, path_prefix: str) -> str | None:
        return find_link(self._read_log(), path_prefix)

    def log(self) -> str:
        """What the server has printed so far (requests it could not serve, mail)."""
        return self._read_log()


@pytest.fixture
def site(transactional_db, django_db_serialized_rollback, tmp_path):
    # Transactional, so the server process sees what the test writes; serialized rollback
    # puts the seeded plans back afterwards for the tests that follow.
    external = os.environ.get("WARREN_LIVE_URL")
    if external:
        log = Path(os.environ.get("WARREN_LIVE_LOG", "/dev/null"))
        yield Site(external.rstrip("/"), lambda: log.read_text(errors="replace"))
        return
    server = LiveServer(tmp_path)
    try:
        yield Site(server.url, server.log)
    finally:
        server.stop()


@pytest.fixture
def browser_flags() -> tuple[str, ...]:
    """More Chromium flags for a story (override in its module): name mappings, trusted keys."""
    return ()


@pytest.fixture
def browser(tmp_path, browser_flags):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Chromium is missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *browser_flags,
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # On failure, keep what the browser saw: a screenshot and the page's HTML.
    outcome = yield
    report = outcome.get_result()
    driver = item.funcargs.get("browser")
    if report.when == "call" and report.failed and driver is not None:
        out = Path(os.environ.get("WARREN_BROWSER_ARTIFACTS", "/tmp/warren-browser-failures"))
        out.mkdir(parents=True, exist_ok=True)
        stem = out / item.name.replace("/", "_")
        driver.save_screenshot(f"{stem}.png")
        Path(f"{stem}.html").write_text(driver.page_source)
        report.sections.append(("browser", f"at {driver.current_url}; saved {stem}.png/.html"))
