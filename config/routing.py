"""Websocket routes of every app, collected in one list for config.asgi."""

from django.urls import path

from consoles.consumers import ConsoleConsumer

websocket_urlpatterns: list = [
    path("ws/consoles/<str:console_id>/", ConsoleConsumer.as_asgi()),
]
