"""Making, recognising and deriving API tokens (no database access here).

A token is ``wrn_`` and 43 URL-safe characters (32 random bytes). ``wrn_`` lets secret
scanners and people recognise one; the first 12 characters are its visible prefix.

The sandbox token (``$API_TOKEN`` in the user's consoles and tasks) cannot be shown once and
forgotten: every console start needs it again. It is derived from SECRET_KEY and a random
salt kept in its row (an HMAC), so only its digest is stored like any other token's; someone
holding SECRET_KEY can already forge sessions, so this puts nothing new behind it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

TOKEN_MARK = "wrn_"  # noqa: S105 - the visible mark, not a secret
PREFIX_CHARS = 12
TOKEN_CHARS = len(TOKEN_MARK) + 43


def token_new() -> str:
    return TOKEN_MARK + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def token_prefix(token: str) -> str:
    return token[:PREFIX_CHARS]


def looks_like_token(token: str) -> bool:
    return token.startswith(TOKEN_MARK) and len(token) == TOKEN_CHARS


def salt_new() -> str:
    return secrets.token_hex(16)


def sandbox_token(*, user_id: int, salt: str) -> str:
    """The sandbox token of the row with ``salt``: the same every time it is asked for."""
    key = settings.SECRET_KEY.encode()
    mac = hmac.new(key, f"warren-api-sandbox-token:{user_id}:{salt}".encode(), hashlib.sha256)
    return TOKEN_MARK + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
