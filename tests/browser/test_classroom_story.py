"""A workshop: three students name Tess as their teacher, open Bash, and Tess watches them all
in the classroom grid, where one student's typing shows up live."""

import asyncio
import json

import pytest
import websockets
from selenium.webdriver.common.by import By

from consoles import services as console_services
from consoles.models import Console
from tests.browser.helpers import log_in_as, wait_for, wait_for_text
from tests.consoles.conftest import session_cookie
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]

CELL_TEXT_JS = """
const term = window.warrenClassroom && window.warrenClassroom.terminals[arguments[0]];
if (!term) return "";
const buffer = term.buffer.active, lines = [];
for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
return lines.join("\\n");
"""


async def type_as(site, console_id: str, cookie: str, text: str, marker: bytes) -> None:
    """The student types into their own console over its websocket, as their page does."""
    url = site.url.replace("http", "ws", 1) + f"/ws/consoles/{console_id}/?rows=24&cols=80"
    async with websockets.connect(
        url, additional_headers={"Cookie": cookie, "Origin": site.url}
    ) as socket:
        await socket.send(text.encode())
        seen = b""
        while marker not in seen:
            frame = await asyncio.wait_for(socket.recv(), 10)
            if isinstance(frame, bytes):
                seen += frame
                await socket.send(json.dumps({"type": "ack", "bytes": len(frame)}))


def test_a_teacher_watches_three_students_typing_in_the_classroom(site, browser, provisioned):
    tess = provisioned(person("tess"))
    students = [provisioned(person(name)) for name in ("ann", "bob", "cid")]

    # Ann names Tess on her Account tab; the page says who her teacher is and what she may do.
    log_in_as(browser, site, students[0])
    browser.get(site.url + "/account/")
    browser.find_element(By.CSS_SELECTOR, ".teacher-form input[name=teacher]").send_keys("tess")
    browser.find_element(By.CSS_SELECTOR, ".teacher-form button").click()
    wait_for_text(browser, "tess is now your teacher.")
    assert "What a teacher can see and do" in browser.page_source

    # Bob and Cid do the same; each of the three opens Bash.
    for student in students[1:]:
        log_in_as(browser, site, student)
        browser.get(site.url + "/account/")
        browser.find_element(By.CSS_SELECTOR, ".teacher-form input[name=teacher]").send_keys("tess")
        browser.find_element(By.CSS_SELECTOR, ".teacher-form button").click()
        wait_for_text(browser, "tess is now your teacher.")
    consoles = [
        console_services.console_start(owner=student, kind=Console.Kind.BASH)
        for student in students
    ]

    # Tess has an Education tab listing all three, and opens the classroom view.
    log_in_as(browser, site, tess)
    browser.get(site.url + "/")
    browser.find_element(By.LINK_TEXT, "Education").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "table.students tr[data-student]")
    assert [row.get_attribute("data-student") for row in rows] == ["ann", "bob", "cid"]
    browser.find_element(By.PARTIAL_LINK_TEXT, "classroom view").click()
    cells = browser.find_elements(By.CSS_SELECTOR, ".classroom-cell")
    assert [cell.get_attribute("data-console") for cell in cells] == [c.pk for c in consoles]
    for console in consoles:
        wait_for(browser, lambda b, c=console: "$ " in b.execute_script(CELL_TEXT_JS, c.pk), 15)

    bob_cookie = session_cookie(students[1]).decode()
    # Bob types; his cell in Tess's grid shows it while she watches.
    asyncio.run(
        type_as(site, consoles[1].pk, bob_cookie, "echo stuck-on-$((6*7))\r", b"stuck-on-42")
    )
    wait_for(browser, lambda b: "stuck-on-42" in b.execute_script(CELL_TEXT_JS, consoles[1].pk))
    assert "stuck-on-42" not in browser.execute_script(CELL_TEXT_JS, consoles[0].pk)

    # She clicks Bob's cell and gets his console full size.
    browser.find_element(By.PARTIAL_LINK_TEXT, "bob").click()
    assert browser.current_url.rstrip("/").endswith(consoles[1].pk)
    assert "bob's console" in browser.find_element(By.CSS_SELECTOR, ".console-bar").text
