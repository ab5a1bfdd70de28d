"""Client helpers for the web ops (stdlib only; Django imports this beside AgentClient).

    client = AgentClient(socket_path, timeout=60)
    result = web_reload(client, user=user, app={"domain": "alice.localhost", ...})

`app` is the structured settings web_apply/web_reload accept (execution_agent/web/spec.py):
domain, enabled, python, processes, working_dir, virtualenv, static [{url, directory, dotfiles}],
auth {username, password_hash} | None, force_https, wsgi_template | None.
"""

from __future__ import annotations

from typing import Literal

from execution_agent.client import AgentClient, UserRef

LogKind = Literal["access", "error", "server"]


def web_info(client: AgentClient) -> dict:
    """{"pythons": ["3.11"], "port": int, "nginx_running": bool, "emperor_running": bool}"""
    return client.call("web_info")[0]


def web_apply(client: AgentClient, *, user: UserRef, app: dict) -> dict:
    """Install the settings without reloading; {"wsgi_created", "vassal_changed", ...}."""
    return client.call("web_apply", user=user, app=app)[0]


def web_reload(client: AgentClient, *, user: UserRef, app: dict, timeout: float = 25) -> dict:
    """Install, touch the WSGI file, test; {"ok", "status", "message", "error_log_tail", ...}."""
    return client.call("web_reload", user=user, app=app, timeout=timeout)[0]


def web_remove(client: AgentClient, *, user: UserRef, domain: str) -> dict:
    return client.call("web_remove", user=user, domain=domain)[0]


def web_log(
    client: AgentClient,
    *,
    user: UserRef,
    domain: str,
    kind: LogKind,
    max_bytes: int = 65536,
    rotation: int = 0,
) -> dict:
    """{"text": the last max_bytes of the log, "size": its whole size, "previous": [{"rotation":
    n, "size": bytes}] its previous files}; rotation n > 0 reads previous file n instead."""
    return client.call(
        "web_log", user=user, domain=domain, kind=kind, max_bytes=max_bytes, rotation=rotation
    )[0]


def web_log_open(
    client: AgentClient, *, user: UserRef, domain: str, kind: LogKind, rotation: int = 0
) -> tuple[int, int]:
    """Open a log (or previous file n) read-only as the user; returns (fd, size). The caller
    closes fd."""
    result, fd = client._call_one_fd(
        "web_log_open", user=user, domain=domain, kind=kind, rotation=rotation
    )
    return fd, result["size"]
