"""Consoles live in the user's tmux server, not in the ASGI process: they survive its restart."""

import asyncio
import json
import re

import pytest
import requests
import websockets

from tests.consoles.conftest import session_cookie
from tests.live import LiveServer

pytestmark = [
    pytest.mark.root,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def start_bash_through(server: LiveServer, cookie: str) -> str:
    """Click the Bash button, as a browser would: GET the tab for a CSRF token, then POST."""
    http = requests.Session()
    http.headers["Cookie"] = cookie
    page = http.get(f"{server.url}/consoles/", timeout=10)
    assert page.status_code == 200, page.text[:500]
    token = http.cookies.get("csrftoken") or re.search(r'"X-CSRFToken": "([^"]+)"', page.text)[1]
    http.headers["Cookie"] = f"{cookie}; csrftoken={token}"
    response = http.post(
        f"{server.url}/consoles/new/",
        data={"kind": "bash", "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"].strip("/").split("/")[-1]


async def session(server: LiveServer, console_id: str, cookie: str, command: str, marker: bytes):
    url = f"ws://127.0.0.1:{server.port}/ws/consoles/{console_id}/?rows=24&cols=80"
    headers = {"Cookie": cookie, "Origin": server.url}
    seen = b""
    async with websockets.connect(url, additional_headers=headers) as socket:
        if command:
            await socket.send(command.encode() + b"\r")
        while marker not in seen:
            frame = await asyncio.wait_for(socket.recv(), 10)
            if isinstance(frame, bytes):
                seen += frame
                await socket.send(json.dumps({"type": "ack", "bytes": len(frame)}))
    return seen


def test_a_console_survives_a_restart_of_the_asgi_server(owner, tmp_path):
    cookie = session_cookie(owner).decode()
    first = LiveServer(tmp_path)
    try:
        console_id = start_bash_through(first, cookie)
        asyncio.run(session(first, console_id, cookie, "echo before-$((20+1))", b"before-21"))
    finally:
        first.stop()
    second = LiveServer(tmp_path)
    try:
        # Reattaching redraws the screen tmux kept: the earlier output is still there.
        screen = asyncio.run(session(second, console_id, cookie, "", b"before-21"))
        assert b"echo before-$((20+1))" in screen
        asyncio.run(session(second, console_id, cookie, "echo after-$((20+2))", b"after-22"))
    finally:
        second.stop()
