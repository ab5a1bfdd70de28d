"""config.asgi's HTTP handler: the middleware chain built sync and entered in one hop."""

from __future__ import annotations

import asyncio

import pytest
from asgiref import sync as asgiref_sync
from django.core.handlers.asgi import ASGIHandler

from config.handlers import SyncChainASGIHandler

# serialized_rollback as every transactional test here (tests/conftest.py says why).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def call(app, method: str, path: str, body: bytes = b"", headers=()) -> tuple[int, dict, bytes]:
    """One request through an ASGI app, as uvicorn would make it; (status, headers, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)  # the client stays connected until the response is sent

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.lower(): v for k, v in start["headers"]}, content


def hops_of(app, path: str) -> int:
    """How many sync_to_async hops one GET of ``path`` makes."""
    count = 0
    original = asgiref_sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        nonlocal count
        count += 1
        return await original(self, *args, **kwargs)

    asgiref_sync.SyncToAsync.__call__ = counted
    try:
        status, _, _ = call(app, "GET", path)
    finally:
        asgiref_sync.SyncToAsync.__call__ = original
    assert status == 200
    return count


def test_pages_forms_and_errors_answer_as_before():
    app = SyncChainASGIHandler()
    status, _, body = call(app, "GET", "/accounts/login/")
    assert status == 200 and b"csrfmiddlewaretoken" in body
    status, _, _ = call(
        app,
        "POST",
        "/accounts/login/",
        b"login=x&password=y",
        [(b"content-type", b"application/x-www-form-urlencoded")],
    )
    assert status == 403  # no CSRF token: refused by the chain's CSRF middleware
    assert call(app, "GET", "/no/such/page/")[0] == 404
    assert call(app, "GET", "/consoles/")[0] == 302  # login required, middleware included


def test_a_request_crosses_into_the_sync_thread_once_not_at_each_middleware():
    mine = hops_of(SyncChainASGIHandler(), "/accounts/login/")
    djangos = hops_of(ASGIHandler(), "/accounts/login/")
    print(f"sync_to_async hops per page: {mine} (Django's own handler: {djangos})")
    assert mine < djangos, (mine, djangos)
    assert mine <= 4, mine  # the chain, plus the request_started/finished signals' receivers
