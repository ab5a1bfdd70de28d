"""Websocket routes of every app, collected in one list for config.asgi."""

websocket_urlpatterns: list = []
