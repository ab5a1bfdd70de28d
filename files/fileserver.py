"""Signed clients for the fileserver agents: the one holding a user's home, or a given server's.

One client per (process, agent URL, secret, timeout) is kept: the client remembers the
timestamps it signed with, so identical requests in the same second (two page loads asking
for the same usage) get distinct signatures instead of a replay refusal, and its connection
pool is reused.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from fileserver_agent.client import FileserverClient

# A page waits at most this long for usage; tasks can afford the client's usual patience.
PAGE_TIMEOUT_SECONDS = 3.0
TASK_TIMEOUT_SECONDS = 10.0

_clients: dict[tuple, FileserverClient] = {}
_lock = threading.Lock()


def fileserver_url(server) -> str:
    """The agent URL of ``server`` (a file Server row), or this machine's when it has none."""
    if server is not None and server.fileserver_agent_url:
        return server.fileserver_agent_url
    return settings.WARREN_FILESERVER_URL


def client_for_server(server, *, timeout: float = TASK_TIMEOUT_SECONDS) -> FileserverClient:
    """A client for ``server``'s fileserver agent (None: this machine's)."""
    url = fileserver_url(server)
    secret = settings.WARREN_AGENT_SECRETS[0]
    key = (os.getpid(), url, secret, timeout)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = FileserverClient(url, secret, timeout=timeout)
    return client


def client_for_user(user, *, timeout: float = TASK_TIMEOUT_SECONDS) -> FileserverClient:
    """A client for the fileserver agent holding ``user``'s home."""
    return client_for_server(user.file_server, timeout=timeout)
