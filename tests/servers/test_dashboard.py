"""The Dashboard's CPU card, the tarpit banner and the development-mode warning."""

import re
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from execution_agent.testing.harness import AgentHarness
from servers.cpu import FREE_SHARES
from servers.models import CpuAccount, Server
from servers.services import CpuReading, cpu_usage_record
from tests.factories import ServerFactory

pytestmark = pytest.mark.django_db
S = 1_000_000
DASH = "\N{EN DASH}"  # between the share used and the seconds, as the issue writes it


def dashboard(client) -> str:
    return re.sub(r"\s+", " ", client.get(reverse("dashboard")).content.decode())


def used(user, seconds: int, *, joined_hours_ago: float = 0) -> None:
    user.date_joined = timezone.now() - timedelta(hours=joined_hours_ago)
    user.save(update_fields=["date_joined"])
    server = ServerFactory(kind=Server.Kind.CONSOLE, hostname="console-1")
    now = timezone.now()
    for usec, moment in ((0, now - timedelta(seconds=1)), (seconds * S, now)):
        readings = {user.username: CpuReading(usec, FREE_SHARES)}
        cpu_usage_record(server=server, readings=readings, now=moment)


def test_the_cpu_card_shows_the_share_used_and_when_it_resets(alice_client, user):
    # She joined 18 h 48 min ago, so her allowance resets in 5 h 12 min.
    used(user, 37, joined_hours_ago=18.8)
    html = dashboard(alice_client)
    assert f"37% used</strong> {DASH} 37 of 100 seconds; resets in 5 h 12 min" in html
    assert 'aria-valuenow="37"' in html
    assert html.count("<rect ") == 24
    assert "CPU-seconds" in html and reverse("servers:processes") in html


def test_a_new_user_sees_an_empty_cpu_day(alice_client):
    html = dashboard(alice_client)
    assert f"0% used</strong> {DASH} 0 of 100 seconds" in html
    assert "tarpit" not in html


def test_over_the_allowance_a_banner_says_processes_are_in_the_tarpit(alice_client, user):
    used(user, 150, joined_hours_ago=1)
    assert CpuAccount.objects.get(user=user).tarpitted
    html = dashboard(alice_client)
    assert "your processes are in the tarpit" in html
    assert "keep running, just slower" in html
    assert "100% used" in html


def test_the_outsider_sees_only_their_own_cpu(alice_client, outsider_client, user):
    used(user, 150, joined_hours_ago=1)
    assert "tarpit" not in dashboard(outsider_client)
    assert "0 of 100 seconds" in dashboard(outsider_client)


@pytest.mark.root
def test_an_unsandboxed_development_agent_is_a_loud_warning(alice_client, settings):
    settings.WARREN_LOCAL_HOSTNAMES = ["laptop"]
    harness = AgentHarness(
        uid_base=settings.WARREN_UID_BASE,
        cgroup_prefix=f"warren-dev-{uuid.uuid4().hex[:8]}",
        python="/usr/bin/python3",
        run_as=settings.WARREN_UID_BASE + 9_101,
    )
    harness.start()
    try:
        cache.clear()
        Server.objects.create(
            kind=Server.Kind.CONSOLE, hostname="laptop", execution_agent_socket=harness.socket_path
        )
        html = dashboard(alice_client)
    finally:
        harness.cleanup()
        cache.clear()
    assert f"Development mode {DASH} laptop: user processes are NOT fully sandboxed" in html
    assert "not running as root" in html
