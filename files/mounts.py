"""The adapter for which file server's copy of a home the execution servers show.

With several file servers (``WARREN_FILESERVER_MOUNTS``: where each one's homes are mounted
on execution servers) every home on a console, task or web server is a bind mount of
<its file server's mount>/<username>, made by the agent's op ``home_mount_set``. Unset: one
file server mounted at ``WARREN_HOMES_ROOT`` itself, and nothing here is called.
"""

from __future__ import annotations

from django.conf import settings

from config.errors import AppError
from servers.agents import AgentError, AgentUnavailable, execution_agent, user_ref
from servers.models import Server

__all__ = ["AgentError", "AgentUnavailable", "configured", "home_mount_set", "home_servers"]

HOME_KINDS = (Server.Kind.CONSOLE, Server.Kind.TASK, Server.Kind.WEB)


def configured() -> bool:
    """Whether homes are bound per user from several file servers' mounts."""
    return bool(settings.WARREN_FILESERVER_MOUNTS)


def source_of(user, file_server: Server) -> str:
    """<file_server's mount on execution servers>/<username>."""
    mount = settings.WARREN_FILESERVER_MOUNTS.get(file_server.hostname)
    if mount is None:
        raise AppError(
            f"WARREN_FILESERVER_MOUNTS names no mount for file server {file_server.hostname}."
        )
    return f"{mount}/{user.username}"


def home_servers() -> list[Server]:
    """Active console, task and web servers, one per execution agent (roles sharing one merge)."""
    seen: dict[tuple[str, str], Server] = {}
    for server in Server.objects.filter(kind__in=HOME_KINDS, is_active=True).order_by("pk"):
        seen.setdefault((server.hostname, server.execution_agent_socket), server)
    return list(seen.values())


def home_mount_set(server: Server, user, file_server: Server) -> bool:
    """Show ``file_server``'s copy of the user's home on ``server``; False if it did already."""
    answer = execution_agent(server).home_mount_set(
        user=user_ref(user), source=source_of(user, file_server)
    )
    return answer["changed"]
