"""The adapter for which file server's copy of a home the execution servers show.

With several file servers (``WARREN_FILESERVER_MOUNTS``: where each one's homes are mounted
on execution servers) every home on a console, task or web server is a bind mount of
<its file server's mount>/<username>, made by the agent's op ``home_mount_set``. Unset: one
file server mounted at ``WARREN_HOMES_ROOT`` itself, and nothing here is called. With
``WARREN_FILESERVER_WWW_MOUNTS`` too, the same op binds the user's web directory
(``WARREN_WWW_ROOT``/<username>) from <that file server's www mount>/<username>, with the home.
"""

from __future__ import annotations

from django.conf import settings

from config.errors import AppError
from servers.agents import AgentError, AgentUnavailable, execution_agent, user_ref
from servers.models import Server

__all__ = [
    "AgentError",
    "AgentUnavailable",
    "agent_identity",
    "configured",
    "home_mount_set",
    "home_servers",
]

HOME_KINDS = (Server.Kind.CONSOLE, Server.Kind.TASK, Server.Kind.WEB)


def configured() -> bool:
    """Whether homes are bound per user from several file servers' mounts."""
    return bool(settings.WARREN_FILESERVER_MOUNTS)


def source_of(user, file_server: Server, variable: str = "WARREN_FILESERVER_MOUNTS") -> str:
    """<file_server's mount on execution servers>/<username> (or its www mount's)."""
    mount = getattr(settings, variable).get(file_server.hostname)
    if mount is None:
        raise AppError(f"{variable} names no mount for file server {file_server.hostname}.")
    return f"{mount}/{user.username}"


def www_source_of(user, file_server: Server) -> str | None:
    """<file_server's www mount>/<username>; None when web directories are not switched."""
    if not settings.WARREN_FILESERVER_WWW_MOUNTS:
        return None
    return source_of(user, file_server, "WARREN_FILESERVER_WWW_MOUNTS")


def home_servers() -> list[Server]:
    """Active console, task and web servers, one per execution agent (roles sharing one merge)."""
    seen: dict[tuple[str, str], Server] = {}
    for server in Server.objects.filter(kind__in=HOME_KINDS, is_active=True).order_by("pk"):
        seen.setdefault((server.hostname, server.execution_agent_socket), server)
    return list(seen.values())


def home_mount_set(server: Server, user, file_server: Server) -> bool:
    """Show ``file_server``'s copy of the user's home (and web directory, when www mounts are
    configured) on ``server``; False if it did already."""
    www_source = www_source_of(user, file_server)
    # Only when set: a server's agent still without www mounts keeps being asked as before.
    extra = {} if www_source is None else {"www_source": www_source}
    answer = execution_agent(server).home_mount_set(
        user=user_ref(user), source=source_of(user, file_server), **extra
    )
    return answer["changed"]


def agent_identity(server: Server) -> tuple[str, str]:
    """(boot id, agent start) of ``server``'s agent: either changes when its binds may be gone.

    An agent older than these fields gives ("", ""): bound once, and again only by the command.
    """
    info = execution_agent(server).info()
    return info.get("boot_id") or "", info.get("agent_started") or ""
