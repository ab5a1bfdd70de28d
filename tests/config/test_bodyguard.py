"""config.bodyguard in front of the real ASGI app: who sends a body decides only past the floor."""

from __future__ import annotations

import pytest

from config import bodyguard
from config.asgi import application
from tests.config.test_handlers import call
from tests.consoles.conftest import session_cookie

# serialized_rollback as every transactional test here (tests/conftest.py says why).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FORM = [(b"content-type", b"application/x-www-form-urlencoded")]


@pytest.fixture
def session_lookups(monkeypatch):
    """The bodyguard's own session lookups, counted (the real one still answers)."""
    calls = []
    original = bodyguard._is_authenticated

    async def counted(cookie_header):
        calls.append(cookie_header)
        return await original(cookie_header)

    monkeypatch.setattr(bodyguard, "_is_authenticated", counted)
    return calls


def post(path: str, body: bytes, cookie: str = "") -> tuple[int, dict, bytes]:
    headers = [*FORM, (b"content-length", str(len(body)).encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return call(application, "POST", path, body, headers)


def test_a_small_anonymous_post_is_refused_by_django_without_a_session_lookup(session_lookups):
    # A valid CSRF pair, so that what answers is the login check, not the CSRF one.
    token = "k" * 32
    body = f"kind=bash&csrfmiddlewaretoken={token}".encode()
    status, headers, _ = post("/consoles/new/", body, f"csrftoken={token}")
    assert status == 302
    assert headers[b"location"].startswith(b"/accounts/login/")
    assert session_lookups == []


def test_a_body_over_the_floor_is_checked_on_its_headers(session_lookups, settings):
    settings.WARREN_ANONYMOUS_REQUEST_MAX_BYTES = 4096
    status, headers, _ = post("/consoles/new/", b"kind=bash&pad=" + b"x" * 5000)
    assert status == 302
    assert headers[b"location"].startswith(b"/accounts/login/")
    assert len(session_lookups) == 1


def test_the_floor_is_the_smallest_limit_of_anyone(session_lookups, settings, user):
    # An API token's cap below the anonymous one: a body between them is not waved through.
    settings.WARREN_API_MAX_BODY_BYTES = 2048
    cookie = session_cookie(user).decode()
    status, _, content = post("/consoles/new/", b"kind=nope&pad=" + b"x" * 3000, cookie)
    assert len(session_lookups) == 1
    assert status != 413, content  # logged in, the session's limit applies: far above 3 kB
