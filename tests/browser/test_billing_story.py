"""A customer builds a plan, is refused for evidence that disagrees, fixes it, and is invoiced."""

import subprocess

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.billing.conftest import write_geoip_database
from tests.browser.conftest import Site
from tests.browser.helpers import fill, log_in_as, submit, wait_for, wait_for_text
from tests.consoles.conftest import session_cookie
from tests.factories import UserFactory
from tests.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def billing_site(transactional_db, django_db_serialized_rollback, tmp_path):
    # The browser comes from 127.0.0.1, which this GeoIP database places in Germany; no trial,
    # so the first invoice is issued as soon as the plan is bought.
    database = tmp_path / "country.mmdb"
    write_geoip_database(database, {"127.0.0.0/8": "DE"})
    server = LiveServer(
        tmp_path,
        extra_env={
            "WARREN_GEOIP_DATABASE": str(database),
            "WARREN_BILLING_TRIAL_DAYS": "0",
            "WARREN_BILLING_STAFF_EMAILS": "billing-staff@example.com",
            "WARREN_BILLING_SELLER": "Warren Ltd|1 High Street|London",
        },
    )
    try:
        yield Site(server.url, server.log)
    finally:
        server.stop()


def _price(browser) -> str:
    return browser.find_element(By.ID, "price-net").text


def set_disk(browser, gib: str) -> str:
    """Move the disk stepper and wait for the price htmx brings back; returns the new price."""
    before = _price(browser)
    fill(browser, "disk_gib", gib)
    idle = "return document.querySelector('.htmx-request') === null;"
    wait_for(browser, lambda b: _price(b) != before and b.execute_script(idle))
    return _price(browser)


def test_customise_a_plan_be_refused_fix_the_address_and_download_the_invoice(
    billing_site, browser, tmp_path
):
    site = billing_site
    alice = UserFactory(username="alice")
    log_in_as(browser, site, alice)

    # On the Account tab Alice finds Upgrade / change plan, and customises her own.
    browser.get(site.url + "/account/")
    browser.find_element(By.LINK_TEXT, "Upgrade / change plan").click()
    wait_for_text(browser, "Customise your plan")
    before = _price(browser)
    assert set_disk(browser, "20") != before  # the price moves, with no page load
    assert "Plus VAT where applicable" in browser.page_source

    # She enters a French billing address...
    browser.find_element(By.LINK_TEXT, "Enter your billing address").click()
    fill(browser, "name", "Alice Martin")
    fill(browser, "address", "3 rue de la Paix\n75002 Paris")
    Select(browser.find_element(By.NAME, "country")).select_by_value("FR")
    submit(browser, "Save billing address")
    wait_for_text(browser, "Billing address saved.")

    # ...the price now shows French VAT, and she buys the plan she built: but she is in Germany.
    set_disk(browser, "20")
    wait_for_text(browser, "VAT at 20.00% (FR")
    submit(browser, "Switch to this custom plan")
    wait_for_text(browser, "Sorry: we cannot set up your subscription")
    assert "Nothing was charged" in browser.page_source
    assert "Subscription refused: alice" in site.log()  # staff were told

    # Her address was wrong: she really lives in Berlin. She fixes it and tries again.
    browser.find_element(By.LINK_TEXT, "correct it").click()
    fill(browser, "address", "Hauptstrasse 1\n10115 Berlin")
    Select(browser.find_element(By.NAME, "country")).select_by_value("DE")
    submit(browser, "Save billing address")
    wait_for_text(browser, "Billing address saved.")
    net = set_disk(browser, "20")
    wait_for_text(browser, "VAT at 19.00% (DE")
    submit(browser, "Switch to this custom plan")
    wait_for_text(browser, "Your plan has changed.")

    # Her first invoice is there, in HTML and as a PDF.
    browser.find_element(By.LINK_TEXT, "Invoices").click()
    browser.find_element(By.PARTIAL_LINK_TEXT, "Invoice 0").click()
    wait_for_text(browser, "VAT 19.00% (DE)")
    assert net in browser.page_source and "Alice Martin" in browser.page_source
    pdf_url = browser.find_element(By.LINK_TEXT, "Download PDF").get_attribute("href")
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(_download(pdf_url, alice))
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for fact in ("Alice Martin", "Germany", "VAT 19.00% (Germany)", net, "Warren Ltd"):
        assert fact in text


def _download(url: str, user) -> bytes:
    # The browser's download lands in a folder Chromium picks; the same request with the same
    # session cookie gets the same bytes.
    import requests

    cookie = session_cookie(user).decode().split("=", 1)[1].split(";")[0]
    response = requests.get(url, cookies={"sessionid": cookie}, timeout=10)
    assert response.headers["Content-Type"] == "application/pdf"
    return response.content
