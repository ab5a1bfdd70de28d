from django.db.models import Count

from servers.models import Server


def server_with_fewest_users(*, kind: str) -> Server | None:
    """The active server of ``kind`` holding the fewest users (new homes go there)."""
    return (
        Server.objects.filter(kind=kind, is_active=True)
        .annotate(user_count=Count("users"))
        .order_by("user_count", "pk")
        .first()
    )


def first_active_server(*, kind: str) -> Server | None:
    return Server.objects.filter(kind=kind, is_active=True).order_by("pk").first()


EXECUTION_KINDS = (Server.Kind.CONSOLE, Server.Kind.TASK)


def execution_servers() -> list[Server]:
    """Active console and task servers, one per execution agent (roles sharing a socket merge).

    These are the machines where users' counted processes run (web app workers are not
    counted); the embedded default registers 127.0.0.1 in both roles with one agent.
    """
    seen: dict[tuple[str, str], Server] = {}
    servers = Server.objects.filter(kind__in=EXECUTION_KINDS, is_active=True).order_by("pk")
    for server in servers:
        seen.setdefault((server.hostname, server.execution_agent_socket), server)
    return list(seen.values())
