"""ASGI entry point: Django for HTTP, Channels consumers for websockets."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does before its handler

from config.handlers import SyncChainASGIHandler  # noqa: E402

django_asgi_app = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config import lifespan  # noqa: E402
from config.bodyguard import BodyGuard  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Login and size are checked on the headers: Django reads the whole body before any
        # of its own middleware runs.
        "http": BodyGuard(django_asgi_app),
        # Origin is checked against ALLOWED_HOSTS before any consumer sees the socket.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # uvicorn --lifespan on: warm-up before serving, hooks before shutting down.
        "lifespan": lifespan.application,
    }
)
