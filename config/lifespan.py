"""The ASGI lifespan protocol (uvicorn --lifespan on): warm up on startup, hooks on shutdown.

Startup does, once, what the first requests after a restart would otherwise pay for (URL
resolver, templates, the session engine, a database connection in the thread sync views and
consumers' queries run in, the channel layer's connection): config.serve counts a worker as
ready only after this, so a rolling restart hands connections to a warm process.

``before_shutdown(hook)`` registers a coroutine function that config.serve's worker awaits
when it stops listening, before uvicorn closes the remaining connections (consoles park
their attach clients then: consoles.consumers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async

logger = logging.getLogger(__name__)

SHUTDOWN_HOOK_SECONDS = 10
_hooks: list[Callable[[], Awaitable[None]]] = []


def before_shutdown(hook: Callable[[], Awaitable[None]]) -> None:
    """Run ``hook`` when this process stops serving, before its connections are closed."""
    if hook not in _hooks:
        _hooks.append(hook)


async def run_shutdown_hooks() -> None:
    """Await every hook (each bounded: a stuck one must not hold the shutdown)."""
    for hook in list(_hooks):
        try:
            await asyncio.wait_for(hook(), SHUTDOWN_HOOK_SECONDS)
        except Exception:
            logger.exception("shutdown hook %s failed", getattr(hook, "__name__", hook))


def _warm_django() -> None:
    from importlib import import_module

    from django.conf import settings
    from django.db import connection
    from django.template.loader import get_template
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.reverse_dict  # noqa: B018 - populates the resolver (imports every view)
    import_module(settings.SESSION_ENGINE).SessionStore  # noqa: B018
    for name in ("base.html", "app.html", "error_page.html"):
        get_template(name)
    connection.ensure_connection()


async def _warm_channel_layer() -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is not None:
        channel = await layer.new_channel()
        await layer.group_discard("warren.warm", channel)  # opens its connection


async def warm() -> None:
    """Warm this process; failures are logged, never fatal (the requests will say why)."""
    started = time.monotonic()
    for name, step in (
        ("django", sync_to_async(_warm_django, thread_sensitive=True)),
        ("channel layer", _warm_channel_layer),
    ):
        try:
            await asyncio.wait_for(step(), 30)
        except Exception as exc:
            logger.warning("warm-up of %s failed: %s", name, exc)
    logger.info("warmed up in %.2f s", time.monotonic() - started)


async def application(scope, receive, send) -> None:
    """The lifespan scope's ASGI application (config.asgi routes "lifespan" here)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await warm()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
