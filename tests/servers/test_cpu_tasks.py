"""The accounting task against a real execution agent: real cgroups, real spinning processes."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Plan
from execution_agent import procs
from servers.agents import execution_agent, user_ref
from servers.cpu import FREE_SHARES, TARPIT_SHARES
from servers.models import CpuAccount, CpuCounter
from servers.selectors import execution_servers
from servers.tasks import account_cpu, account_cpu_all, account_cpu_on
from tests.factories import UserFactory

pytestmark = pytest.mark.root


def spin(user, seconds: float) -> float:
    """Spin a CPU in the user's sandbox until it has used ``seconds``; return what it used."""
    client = execution_agent()
    pid = client.spawn(user=user_ref(user), argv=["python3", "-c", "while True: pass"])["pid"]
    deadline = time.monotonic() + 30
    while (procs.cpu_seconds(pid) or 0) < seconds and time.monotonic() < deadline:
        time.sleep(0.02)
    spun = procs.cpu_seconds(pid)
    client.signal(user=user_ref(user), pid=pid, signal="KILL")
    while pid in [p["pid"] for p in client.processes(user=user_ref(user))]:
        time.sleep(0.02)
    return spun


def start_counting(user, server) -> float:
    """Make the user's cgroup and give accounting its starting point; return seconds used."""
    execution_agent().run(user=user_ref(user), argv=["true"])
    account_cpu(server.pk)  # first sight of a cgroup is a starting point, never a charge
    return used_seconds(user)


def cpu_shares(exec_agent, user) -> int:
    return int(
        Path(
            f"/sys/fs/cgroup/cpu/{exec_agent.cgroup_prefix}/{user.username}/cpu.shares"
        ).read_text()
    )


def used_seconds(user) -> float:
    return CpuAccount.objects.get(user=user).used_usec / 1e6


def test_the_embedded_default_has_one_execution_agent_to_ask(local_servers):
    assert len(execution_servers()) == 1


def test_two_seconds_of_spinning_are_counted_within_twenty_percent(provisioned):
    alice = provisioned(UserFactory(username="alice"))
    [server] = execution_servers()
    before = start_counting(alice, server)
    spun = spin(alice, 2.0)
    account_cpu(server.pk)
    counted = used_seconds(alice) - before
    assert spun >= 2.0
    assert 0.8 * spun <= counted <= 1.2 * spun, f"counted {counted:.2f} s of {spun:.2f} s"


def test_over_the_allowance_the_weight_drops_to_the_tarpit_and_returns_at_reset(
    provisioned, exec_agent
):
    alice = provisioned(UserFactory(username="alice"))
    [server] = execution_servers()
    execution_agent().run(user=user_ref(alice), argv=["true"])  # her cgroup exists from now
    now = timezone.now()
    account_cpu_on(server, now=now)  # the starting point
    Plan.objects.filter(slug="beginner").update(cpu_seconds_per_day=1)
    assert cpu_shares(exec_agent, alice) == FREE_SHARES

    spin(alice, 1.5)
    account_cpu_on(server, now=now + timedelta(minutes=1))
    assert CpuAccount.objects.get(user=alice).tarpitted
    assert cpu_shares(exec_agent, alice) == TARPIT_SHARES
    # Nothing is killed: a process started in the tarpit runs (slowly) and is listed.
    pid = execution_agent().spawn(user=user_ref(alice), argv=["sleep", "30"])["pid"]
    assert listed_soon(alice, pid)

    reset = CpuAccount.objects.get(user=alice).window_end
    account_cpu_on(server, now=reset + timedelta(seconds=30))
    window = CpuAccount.objects.get(user=alice)
    assert (window.tarpitted, window.window_start) == (False, reset)
    assert cpu_shares(exec_agent, alice) == FREE_SHARES


def listed_soon(user, pid: int, timeout: float = 15.0) -> bool:
    """Whether pid shows in the user's process list within timeout: at 2 shares on a busy
    machine (the whole suite runs beside it), the new sandbox can take seconds to exec."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid in [p["pid"] for p in execution_agent().processes(user=user_ref(user))]:
            return True
        time.sleep(0.2)
    return False


def test_an_unreachable_agent_loses_no_cpu_time(provisioned, local_servers, exec_agent):
    alice = provisioned(UserFactory(username="alice"))
    [server] = execution_servers()
    before = start_counting(alice, server)
    spun = spin(alice, 0.5)
    real_socket = server.execution_agent_socket
    server.execution_agent_socket = "/nonexistent/agent.sock"
    server.save(update_fields=["execution_agent_socket"])
    account_cpu(server.pk)  # logs and returns; the counter is not advanced
    assert used_seconds(alice) == before
    server.execution_agent_socket = real_socket
    server.save(update_fields=["execution_agent_socket"])
    account_cpu(server.pk)
    assert used_seconds(alice) - before >= 0.8 * spun


def test_the_beat_entry_fans_out_to_every_execution_agent(provisioned, settings):
    alice = provisioned(UserFactory(username="alice"))
    assert settings.CELERY_BEAT_SCHEDULE["servers-account-cpu"]["schedule"] == 60.0
    execution_agent().run(user=user_ref(alice), argv=["true"])  # her cgroup exists from now
    account_cpu_all()  # eager in tests: each server's task runs here
    assert CpuCounter.objects.filter(user=alice).count() == 1
