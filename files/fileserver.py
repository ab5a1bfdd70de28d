"""The files app's adapter for the fileserver agents: homes, quotas and usage, by user or server.

One idiom for Django talking to an agent (servers/agents.py says it in full): an adapter
module per app turns Warren's objects into agent calls, one function each; services and
selectors call those, never a client's methods, and word the agent's errors for the user.
Failures come out as FileserverError and its subclasses, for the files services and tasks.

Clients are signed; ``client_for_user``/``client_for_server`` hand them to tests and benches.

One client per (process, agent URL, secret, timeout) is kept: the client remembers the
timestamps it signed with, so identical requests in the same second (two page loads asking
for the same usage) get distinct signatures instead of a replay refusal, and its connection
pool is reused.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from fileserver_agent.client import FileserverClient, Home, QuotaLimits, Usage

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


def create_home(user) -> Home:
    """Create (or confirm) ``user``'s home and web directory on their file server."""
    return client_for_user(user).create_home(user.username, uid=user.uid, gid=user.uid)


def set_quota(user, *, soft_bytes: int, hard_bytes: int) -> QuotaLimits:
    """Set ``user``'s disk limits on their file server."""
    return client_for_user(user).set_quota(user.uid, soft_bytes=soft_bytes, hard_bytes=hard_bytes)


def set_quotas(server, quotas: list, *, timeout: float) -> int:
    """Set many users' disk limits on ``server`` in one batch; how many were applied."""
    return client_for_server(server).set_quotas(quotas, timeout=timeout)


def get_usage(user, *, timeout: float = TASK_TIMEOUT_SECONDS) -> Usage:
    """``user``'s disk usage and limits as their file server reports them."""
    return client_for_user(user, timeout=timeout).get_usage(user.uid)


def home_acl(user, *, grantee_uid: int, grant: bool) -> dict:
    """Grant or revoke ``grantee_uid`` on ``user``'s home (POSIX ACLs, recursive, inherited)."""
    return client_for_user(user).home_acl(
        user.username, owner_uid=user.uid, grantee_uid=grantee_uid, grant=grant
    )


def snapshot_list(user, *, path: str) -> dict:
    """A folder (``path`` beneath the home) of last night's copy of ``user``'s home."""
    return client_for_user(user).snapshot_list(user.username, uid=user.uid, path=path)


def snapshot_restore(user, *, path: str, target: str) -> dict:
    """Copy ``path`` of last night's copy to the new ``target`` in the home, as ``user``."""
    return client_for_user(user).snapshot_restore(
        user.username, uid=user.uid, path=path, target=target
    )


def server_health(server) -> dict:
    """``server``'s agent health report: its roots (homes_root, www_root), backend, problems."""
    return client_for_server(server).health()


def home_sync(user, source, *, homes: str, www: str) -> float:
    """One pass copying ``user``'s home and web directory from ``source`` to those roots."""
    return client_for_server(source).home_sync(user.username, uid=user.uid, homes=homes, www=www)
