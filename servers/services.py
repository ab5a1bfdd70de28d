from django.conf import settings
from django.db import transaction

from servers.models import Server


@transaction.atomic
def servers_register_local(*, hostname: str = "127.0.0.1") -> list[Server]:
    """Register this machine in every role (the embedded default); safe to run again."""
    agent_socket = str(settings.WARREN_EXEC_AGENT_SOCKET)
    servers = []
    for kind in Server.Kind.values:
        defaults = {"is_active": True}
        if kind == Server.Kind.FILE:
            defaults["fileserver_agent_url"] = settings.WARREN_FILESERVER_URL
        else:
            defaults["execution_agent_socket"] = agent_socket
        server, _ = Server.objects.update_or_create(kind=kind, hostname=hostname, defaults=defaults)
        servers.append(server)
    return servers
