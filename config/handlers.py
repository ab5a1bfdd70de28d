"""Django's ASGI handler with its middleware chain run in one thread hop per request."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    """ASGIHandler whose middleware chain (and views) run synchronously, in one hop.

    Built for an async server, Django's chain mixes its async-capable middleware with our
    sync-only ones, and each boundary is a hop between the event loop and the sync thread:
    17 hops for the login page, 3 here (tests/config/test_handlers.py); a console's POST took
    1.3 ms less of its 20 in-process. Every view and middleware here is sync, so the whole
    chain is built sync and entered once, in the same thread-sensitive executor Django would
    use, so database connections stay in one thread.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)
