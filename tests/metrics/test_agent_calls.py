"""Django's calls to the execution agent are timed, and running consoles counted, on /metrics."""

import pytest

from consoles import services
from consoles.models import Console
from tests.factories import person
from tests.metrics.scraping import value

pytestmark = [pytest.mark.root, pytest.mark.django_db]
CALLS = "warren_agent_call_seconds_count"


def test_a_console_start_is_timed_and_counted(provisioned, scrape):
    owner = provisioned(person("alice"))
    before = scrape()
    console = services.console_start(owner=owner, kind=Console.Kind.BASH)
    after = scrape()
    assert (
        value(after, CALLS, op="console_start", outcome="ok")
        - value(before, CALLS, op="console_start", outcome="ok")
        == 1
    )
    seconds = "warren_agent_call_seconds_sum"
    assert value(after, seconds, op="console_start", outcome="ok") > value(
        before, seconds, op="console_start", outcome="ok"
    )
    host = console.server.hostname
    assert (
        value(after, "warren_consoles_running", server=host)
        == value(before, "warren_consoles_running", server=host) + 1
    )
    services.console_kill(console=console)
    assert value(scrape(), "warren_consoles_running", server=host) == value(
        before, "warren_consoles_running", server=host
    )


def test_a_refused_call_is_counted_with_its_error_code(provisioned, scrape):
    from consoles import tmux

    owner = provisioned(person("alice"))
    console = services.console_start(owner=owner, kind=Console.Kind.BASH)
    # A console the agent has never heard of (never saved: only its id and owner matter).
    ghost = Console(id="no-such-session", owner=owner, server=console.server)
    before = scrape()
    with pytest.raises(tmux.AgentError) as refused:
        tmux.capture(ghost)
    after = scrape()
    code = refused.value.code
    assert (
        value(after, CALLS, op="console_capture", outcome=code)
        - value(before, CALLS, op="console_capture", outcome=code)
        == 1
    )
