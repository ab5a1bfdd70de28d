"""The outermost ASGI layer for HTTP: decides whether a request body may be read at all.

Django's ASGIHandler reads the whole body (spooled to a temporary file) before any middleware
or view runs, so the login check and the upload limits inside Django come after a 1 GiB body
has crossed the wire. This layer runs first, on the headers alone:

- a body sent anonymously to a page that needs a login gets the login redirect Django would
  give, without a byte of it being read;
- a body whose Content-Length is over the limit gets 413, unread;
- a chunked (or lying) body is counted as it streams, and cut with 413 at the limit.

The limit is WARREN_REQUEST_MAX_BYTES for a logged-in user, WARREN_API_MAX_BODY_BYTES for a valid
API token on /api/, and WARREN_ANONYMOUS_REQUEST_MAX_BYTES (login, sign-up and reset forms) for
anyone else. It relies on a server with flow control
(uvicorn stops reading the socket while the application is not consuming), so a body nobody
reads stays in the kernel's buffers, not in the process.
"""

from __future__ import annotations

import json
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.views import redirect_to_login
from django.db import close_old_connections
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.urls import Resolver404, resolve

from files.units import format_bytes


class BodyGuard:
    """ASGI middleware: login and size checks on a request's headers before its body is read."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked and declared in (None, "0"):
            return await self.app(scope, receive, send)
        anyones = _limit_for_anyone()
        if not chunked and declared.isdigit() and int(declared) <= anyones:
            # Within what anyone may send (a form such as the Bash button's): who sends it
            # changes no limit, so the session is not looked up here and again in Django, a
            # database round trip on every small POST. Django's own login check answers an
            # anonymous one, after reading at most these bytes.
            return await self._counted(scope, receive, send, headers, anyones)

        authenticated = await _is_authenticated(headers.get("cookie", ""))
        if not authenticated and _needs_login(scope):
            return await _respond_login_redirect(scope, send)
        limit = (
            settings.WARREN_REQUEST_MAX_BYTES
            if authenticated
            else settings.WARREN_ANONYMOUS_REQUEST_MAX_BYTES
        )
        if await _has_api_token(scope, headers):
            limit = settings.WARREN_API_MAX_BODY_BYTES
        if declared is not None and not chunked:
            if not declared.isdigit():
                return await _respond(send, headers, 400, "The request's length is not a number.")
            if int(declared) > limit:
                return await _respond(send, headers, 413, _too_large(limit))
        return await self._counted(scope, receive, send, headers, limit)

    async def _counted(self, scope, receive, send, headers, limit):
        received = 0
        refused = False

        async def receive_within_limit():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _respond(send, headers, 413, _too_large(limit))
                    # Django stops reading on a disconnect and sends nothing of its own.
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message):
            if not refused:
                await send(message)

        return await self.app(scope, receive_within_limit, send_unless_refused)


def _limit_for_anyone() -> int:
    """The smallest body limit: anonymous, logged-in or API token, a body this size is allowed."""
    return min(
        settings.WARREN_ANONYMOUS_REQUEST_MAX_BYTES,
        settings.WARREN_REQUEST_MAX_BYTES,
        settings.WARREN_API_MAX_BODY_BYTES,
    )


def _headers(scope) -> dict[str, str]:
    # Repeated headers are joined, as Django does; latin-1 is what ASGI servers decode with.
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


async def _is_authenticated(cookie_header: str) -> bool:
    session_key = parse_cookie(cookie_header).get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return False
    return await sync_to_async(_session_is_authenticated, thread_sensitive=True)(session_key)


def _session_is_authenticated(session_key: str) -> bool:
    # The same check Django's AuthenticationMiddleware makes (session hash included), so a
    # session that was logged out or had its password changed counts as anonymous here too.
    close_old_connections()
    try:
        request = HttpRequest()
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        return get_user(request).is_authenticated
    finally:
        close_old_connections()


async def _has_api_token(scope, headers: dict[str, str]) -> bool:
    # The API's scripts show a token, not a session: a valid one earns the API's body limit.
    if not scope["path"].startswith("/api/"):
        return False
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "token" or not token:
        return False
    return await sync_to_async(_token_is_valid, thread_sensitive=True)(token.strip())


def _token_is_valid(token: str) -> bool:
    from django.utils import timezone

    from api.selectors import api_token_find

    close_old_connections()
    try:
        return api_token_find(token=token, now=timezone.now()) is not None
    finally:
        close_old_connections()


def _needs_login(scope) -> bool:
    # LoginRequiredMiddleware's own rule: every view needs a login unless marked otherwise.
    path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return getattr(match.func, "login_required", True)


def _too_large(limit: int) -> str:
    return (
        f"This request is larger than {format_bytes(limit)}, the most one request may send. "
        "Nothing was saved: send fewer or smaller files at a time."
    )


async def _respond(send, headers: dict[str, str], status: int, message: str) -> None:
    if headers.get("authorization", "").lower().startswith("token "):
        # The API's one error shape (api.errors).
        error = {"error": "too_large" if status == 413 else "bad_request", "detail": message}
        body, content_type = json.dumps(error), "application/json"
    elif "application/json" in headers.get("accept", ""):
        body, content_type = json.dumps({"ok": False, "message": message}), "application/json"
    else:
        body, content_type = message + "\n", "text/plain; charset=utf-8"
    await _send_response(send, status, body.encode(), [(b"content-type", content_type.encode())])


async def _respond_login_redirect(scope, send) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope["path"] + (f"?{query}" if query else "")
    location = redirect_to_login(path)["Location"]
    await _send_response(send, 302, b"", [(b"location", location.encode("latin-1"))])


async def _send_response(send, status: int, body: bytes, headers: list) -> None:
    # The body was not read: the connection cannot carry another request after this one.
    headers = [*headers, (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
