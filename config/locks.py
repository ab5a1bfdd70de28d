"""A lock in the cache, so a periodic job never overlaps itself (Redis in production)."""

import contextlib
import secrets

from django.core.cache import cache


@contextlib.contextmanager
def cache_lock(key: str, *, timeout: float):
    """Yield whether this caller got the lock; a periodic job holding it never overlaps."""
    token = secrets.token_hex(16)
    held = cache.add(key, token, timeout)
    try:
        yield held
    finally:
        # Only the holder releases, and only its own lock (not one taken after a lapse).
        if held and cache.get(key) == token:
            cache.delete(key)
