"""What every API request must get right before its view runs: the token (from the
Authorization header only), the per-token rate limit, and a body that is JSON, small enough
and declared as such. Runs as the API's authentication callback, so a refused request's body
is never parsed.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.utils import timezone
from ninja.security import APIKeyHeader

from api.errors import ApiError
from api.ratelimit import rate_limit_retry_after
from api.selectors import api_token_find
from api.services import api_token_used
from api.tokens import TOKEN_MARK

# Views that take the file's bytes as the body, not JSON.
RAW_BODY_PATH_PART = "/files/path/"
BODY_METHODS = ("POST", "PUT", "PATCH")
QUERY_TOKEN_NAMES = ("token", "api_token", "apikey", "api_key", "key", "access_token")


class TokenAuth(APIKeyHeader):
    """``Authorization: Token <token>``; a token anywhere in the query string is refused."""

    param_name = "Authorization"
    openapi_description = "Your token from the Account tab, as `Token <token>`."

    def __call__(self, request):
        _refuse_token_in_query(request)
        _refuse_nul(request)
        return self.authenticate(request, request.headers.get("Authorization"))

    def authenticate(self, request, key):
        raw = _token_from_header(key)
        token = api_token_find(token=raw, now=timezone.now())
        if token is None:
            raise ApiError(401, "This token is not valid: it is wrong, expired or revoked.")
        retry_after = rate_limit_retry_after(token_digest=token.digest, now=time.time())
        if retry_after is not None:
            raise ApiError(
                429,
                f"Too many requests with this token: at most "
                f"{settings.WARREN_API_RATE_LIMIT_PER_MINUTE} a minute. "
                f"Try again in {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )
        _check_body(request)
        api_token_used(token=token, now=timezone.now())
        request.user = token.user
        request.api_token = token
        return token.user


def _token_from_header(header: str | None) -> str:
    if not header:
        raise ApiError(401, "Send your API token as the header 'Authorization: Token <token>'.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "token" or not token.strip():
        raise ApiError(
            401, "The Authorization header must be 'Token <token>' (the Account tab makes one)."
        )
    return token.strip()


def _refuse_token_in_query(request) -> None:
    # URLs end up in logs, browser history and Referer headers: a token there is a leak.
    for name, values in request.GET.lists():
        if name.lower() in QUERY_TOKEN_NAMES or any(TOKEN_MARK in value for value in values):
            raise ApiError(
                400,
                "Tokens are not accepted in the URL (they end up in logs): send the header "
                "'Authorization: Token <token>' instead, and revoke the token you just sent.",
            )


def _refuse_nul(request) -> None:
    # No name, path or domain holds one, and PostgreSQL cannot even be asked about it.
    query = (value for _, values in request.GET.lists() for value in values)
    if "\0" in request.path or any("\0" in value for value in query):
        raise ApiError(400, "The URL may not contain NUL characters.")


def _check_body(request) -> None:
    if request.method not in BODY_METHODS:
        return
    declared = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.WARREN_API_MAX_BODY_BYTES
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"The body is larger than {limit} bytes, the most the API takes.")
    if RAW_BODY_PATH_PART in request.path:
        return
    content_type = request.content_type or ""
    body = request.body
    if not body:
        return
    if content_type != "application/json":
        raise ApiError(
            415, f"Send JSON with 'Content-Type: application/json' (got {content_type or 'none'})."
        )
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The body is not valid JSON: {exc}.") from None
    if b"\\u0000" in body:
        raise ApiError(400, "The body may not contain NUL characters.")
