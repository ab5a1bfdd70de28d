"""Open console websockets are a gauge on /metrics: up when one connects, down when it closes."""

import pytest
from channels.db import database_sync_to_async

from consoles import services
from consoles.models import Console
from tests.metrics.scraping import scraper, value

pytestmark = [
    pytest.mark.root,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
SESSIONS = "warren_websocket_sessions"


@pytest.fixture
def scrape(settings):
    """Calling it scrapes /metrics/ with the token (metrics switched on for this test)."""
    return scraper(settings)


async def test_open_console_sockets_are_counted(owner, open_terminal, scrape, viewer):
    console = await database_sync_to_async(services.console_start)(
        owner=owner, kind=Console.Kind.BASH
    )
    read = database_sync_to_async(scrape)
    before = value(await read(), SESSIONS, consumer="console")
    first = await open_terminal(console.pk, owner)
    second = await open_terminal(console.pk, owner, query="watch=1")
    assert value(await read(), SESSIONS, consumer="console") == before + 2
    await first.communicator.disconnect()
    assert value(await read(), SESSIONS, consumer="console") == before + 1
    await second.communicator.disconnect()
    assert value(await read(), SESSIONS, consumer="console") == before


async def test_a_refused_socket_is_not_counted(owner, viewer, scrape):
    from tests.consoles.conftest import communicator_for, session_cookie

    console = await database_sync_to_async(services.console_start)(
        owner=owner, kind=Console.Kind.BASH
    )
    read = database_sync_to_async(scrape)
    before = value(await read(), SESSIONS, consumer="console")
    cookie = await database_sync_to_async(session_cookie)(viewer)  # not shared with bob
    communicator = communicator_for(console.pk, cookie)
    connected, _ = await communicator.connect(timeout=10)
    assert not connected
    assert value(await read(), SESSIONS, consumer="console") == before
