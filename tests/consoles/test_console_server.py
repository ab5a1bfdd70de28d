"""Which console server a new console goes to (consoles.services.console_server_here)."""

import pytest
from django.conf import settings

from consoles import services
from servers.models import Server

pytestmark = pytest.mark.root


def test_a_console_starts_on_this_machines_server_not_merely_the_first(owner):
    # A console server elsewhere, registered first: this process could not attach to a console
    # there (its agent's socket is on that machine), nor take its parked clients.
    mine = Server.objects.get(kind=Server.Kind.CONSOLE)
    Server.objects.filter(pk=mine.pk).delete()
    Server.objects.create(
        kind=Server.Kind.CONSOLE, hostname="console-2.example", execution_agent_socket="/x.sock"
    )
    mine.pk = None
    mine.save()
    assert mine.hostname in settings.WARREN_LOCAL_HOSTNAMES

    assert services.console_server_here() == mine
    console = services.console_start(owner=owner, kind="bash")
    try:
        assert console.server == mine
    finally:
        services.console_kill(console=console)


def test_without_a_local_server_the_first_active_one_is_used(db):
    Server.objects.filter(kind=Server.Kind.CONSOLE).delete()
    first = Server.objects.create(
        kind=Server.Kind.CONSOLE, hostname="console-2.example", execution_agent_socket="/x.sock"
    )
    Server.objects.create(
        kind=Server.Kind.CONSOLE, hostname="console-3.example", execution_agent_socket="/y.sock"
    )
    assert services.console_server_here() == first
