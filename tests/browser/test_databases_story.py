"""Alice sets a MySQL password, creates a database, opens a MySQL console and sees only hers;
mallory's database on the same server never shows."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from databases.engines import engine, mysql_verifier
from databases.models import DatabaseServer
from tests.browser.helpers import fill, log_in_as, screen, submit, wait_for, wait_for_text
from tests.browser.test_consoles_story import type_into_terminal, wait_for_line, wait_for_terminal
from tests.databases.engines import MYSQL, new_prefix, sweep
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]


@pytest.fixture
def mysql_server(transactional_db):
    prefix = new_prefix()
    server = DatabaseServer.objects.create(
        kind="mysql",
        host=MYSQL["host"],
        port=MYSQL["port"],
        admin_user=MYSQL["admin"],
        name_prefix=prefix,
    )
    yield server
    sweep(prefix)


def test_set_a_password_create_a_database_and_see_only_it_in_a_console(
    site, browser, provisioned, mysql_server
):
    alice = provisioned(person("alice"))
    # Someone else's database on the same server, made the way Warren makes them.
    mallory = mysql_server.name_prefix + "mallory"
    engine(mysql_server).account_ensure(
        login=mallory, verifier=mysql_verifier("mallory-pass"), connections=2
    )
    engine(mysql_server).database_create(name=f"{mallory}$secret", owner=mallory)

    # Alice opens the Databases tab: PostgreSQL is explained, MySQL asks for a password.
    log_in_as(browser, site, alice)
    browser.get(site.url + "/databases/")
    wait_for_text(browser, "PostgreSQL is a paid add-on")
    mysql = browser.find_element(By.ID, "mysql")
    mysql.find_element(By.NAME, "password").send_keys("alice-pass-1")
    submit(browser, "Set password")
    wait_for_text(browser, "Password set.")
    wait_for(
        browser,
        lambda b: (
            b.find_element(By.CSS_SELECTOR, "#mysql .db-account-state").get_attribute("data-state")
            == "ready"
        ),
        15,
    )
    login = browser.find_element(By.CSS_SELECTOR, "#mysql .db-login").text
    assert login == mysql_server.name_prefix + "alice"

    # She creates a database called blog; the list shows alice$blog, ready.
    fill(browser, "name", "blog")
    submit(browser, "Create")
    wait_for(
        browser,
        lambda b: b.find_elements(
            By.CSS_SELECTOR, '#mysql tr[data-name="alice$blog"][data-state="ready"]'
        ),
        15,
    )
    assert "alice$blog" in browser.find_element(By.CSS_SELECTOR, "#mysql .db-django").text

    # She starts a MySQL console (no password typed) and asks for the databases.
    submit(browser, "Start a MySQL console")
    wait_for_terminal(browser)
    wait_for(browser, lambda b: "]>" in screen(b), 20)
    type_into_terminal(browser, "SHOW DATABASES;" + Keys.ENTER)
    wait_for(browser, lambda b: "rows in set" in screen(b), 10)
    seen = screen(browser)
    assert f"{login}$blog" in seen and "information_schema" in seen
    assert "mallory" not in seen and "mysql " not in seen
    type_into_terminal(browser, "exit" + Keys.ENTER)
    wait_for_line(browser, "Bye")
