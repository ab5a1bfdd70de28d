"""Requests per token per minute, counted in the cache (Redis in production, shared by every
web process): a fixed window keyed by the minute, so a count is one INCR."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def rate_limit_retry_after(*, token_digest: str, now: float) -> int | None:
    """Count one request of the token; None if allowed, else the seconds until the next window."""
    window = int(now // WINDOW_SECONDS)
    # By digest, not id: an id is reused after a delete (and in tests, after each rollback).
    key = f"api:rate:{token_digest[:32]}:{window}"
    # add() is atomic: the first request of a window creates the key with its expiry.
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
    if count <= settings.WARREN_API_RATE_LIMIT_PER_MINUTE:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
