"""Per-user cgroups: real v1 accounting and weights through the agent; v2 on a fake tree."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from execution_agent import procs
from execution_agent.cgroups import CgroupsV1, CgroupsV2, detect, shares_to_weight
from execution_agent.testing.harness import AgentHarness

# What the kernel shows in a v2 group's cpu.stat (Linux 6.x, with the cpu controller on).
CPU_STAT = """usage_usec {usage}
user_usec 1500000
system_usec 234567
core_sched.force_idle_usec 0
nr_periods 0
nr_throttled 0
throttled_usec 0
nr_bursts 0
burst_usec 0
"""


def cpu_usec(client, username: str) -> int:
    return client.cpu_usage()["users"].get(username, {"cpu_usec": 0})["cpu_usec"]


@pytest.mark.root
def test_two_seconds_of_spinning_are_counted_within_twenty_percent(client, alice):
    before = cpu_usec(client, alice["username"])
    pid = client.spawn(user=alice, argv=["python3", "-c", "while True: pass"])["pid"]
    deadline = time.monotonic() + 20
    while (procs.cpu_seconds(pid) or 0) < 2.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    spun = procs.cpu_seconds(pid)
    client.signal(user=alice, pid=pid, signal="KILL")
    while pid in [p["pid"] for p in client.processes(user=alice)]:
        time.sleep(0.02)
    counted = (cpu_usec(client, alice["username"]) - before) / 1e6
    assert spun >= 2.0
    assert 1.6 <= counted <= 2.4, f"counted {counted:.2f}s for a ~2s spin ({spun:.2f}s)"


@pytest.mark.root
def test_cpu_usage_reports_the_cgroup_version_and_only_user_groups(client, harness, alice):
    client.run(user=alice, argv=["true"])
    Path(f"/sys/fs/cgroup/cpuacct/{harness.cgroup_prefix}/Not_A_User").mkdir()
    usage = client.cpu_usage()
    assert usage["cgroups"] == "v1"
    assert alice["username"] in usage["users"]
    client.set_cpu_weight(user=alice, shares=300)
    assert client.cpu_usage()["users"][alice["username"]]["cpu_shares"] == 300
    assert "Not_A_User" not in usage["users"]


@pytest.mark.root
@pytest.mark.parametrize("shares", [2, 300, 700, 262144])
def test_set_cpu_weight_writes_cpu_shares_on_v1(client, harness, alice, shares):
    assert client.set_cpu_weight(user=alice, shares=shares) is True
    path = Path(f"/sys/fs/cgroup/cpu/{harness.cgroup_prefix}/{alice['username']}/cpu.shares")
    assert int(path.read_text()) == shares


@pytest.mark.root
def test_the_spawn_that_makes_the_cgroup_sets_its_weight_and_later_ones_keep_it(
    client, harness, alice
):
    # Django sends the user's weight with every spawn, so a cgroup made again after a
    # reboot starts in the tarpit too; an existing cgroup keeps what accounting last set.
    path = Path(f"/sys/fs/cgroup/cpu/{harness.cgroup_prefix}/{alice['username']}/cpu.shares")
    client.run(user=alice, argv=["true"], limits={"cpu_shares": 2})
    assert int(path.read_text()) == 2
    client.run(user=alice, argv=["true"], limits={"memory_bytes": 1 << 30, "cpu_shares": 700})
    assert int(path.read_text()) == 2
    client.set_cpu_weight(user=alice, shares=700)
    client.run(user=alice, argv=["true"], limits={"cpu_shares": 2})
    assert int(path.read_text()) == 700


@pytest.mark.root
@pytest.mark.parametrize("shares", [1, 262145, "300"])
def test_limits_refuse_out_of_range_cpu_shares(client, alice, shares):
    from execution_agent.client import AgentError

    with pytest.raises(AgentError) as error:
        client.run(user=alice, argv=["true"], limits={"cpu_shares": shares})
    assert error.value.code == "bad_request"
    assert "cpu_shares" in error.value.message


@pytest.mark.root
@pytest.mark.parametrize("shares", [1, 262145, "700", 2.5])
def test_set_cpu_weight_refuses_out_of_range_shares(client, alice, shares):
    from execution_agent.client import AgentError

    with pytest.raises(AgentError) as error:
        client.call("set_cpu_weight", user=alice, shares=shares)
    assert error.value.code == "bad_request"


def test_this_machine_is_detected_as_v1_with_separate_hierarchies():
    backend = detect("warren")
    assert isinstance(backend, CgroupsV1)
    assert set(backend.mounts) == {"cpu", "cpuacct", "memory", "pids"}


@pytest.fixture
def fake_v2(tmp_path) -> Path:
    """A cgroup2 root as the kernel lays it out: available controllers, nothing delegated."""
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    return tmp_path


def test_a_pure_unified_hierarchy_is_detected_as_v2(fake_v2):
    assert isinstance(detect("warren", root=fake_v2), CgroupsV2)


def test_v2_delegates_controllers_down_to_the_prefix_and_sets_limits(fake_v2):
    backend = CgroupsV2(fake_v2, "warren/users")
    backend.ensure_user("alice", 1 << 30, 100)
    for level in (fake_v2, fake_v2 / "warren", fake_v2 / "warren" / "users"):
        assert (level / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    group = fake_v2 / "warren" / "users" / "alice"
    assert (group / "memory.max").read_text() == str(1 << 30)
    assert (group / "pids.max").read_text() == "100"
    backend.add_pids("alice", [1234, 5678])
    assert (group / "cgroup.procs").read_text() == "1234\n5678\n"


def test_v2_new_groups_get_default_limits_and_none_keeps_existing_ones(fake_v2):
    backend = CgroupsV2(fake_v2, "warren")
    assert backend.ensure_user("alice", None, None) is True  # new: the spawn sets its weight
    assert (fake_v2 / "warren" / "alice" / "memory.max").read_text() == str(3 << 30)
    assert (fake_v2 / "warren" / "alice" / "pids.max").read_text() == "512"
    assert backend.ensure_user("alice", 1 << 30, 64) is False
    assert backend.ensure_user("alice", None, None) is False
    assert (fake_v2 / "warren" / "alice" / "pids.max").read_text() == "64"


def test_v2_refuses_when_controllers_are_missing(fake_v2):
    (fake_v2 / "cgroup.controllers").write_text("cpuset io\n")
    with pytest.raises(OSError, match="unavailable"):
        CgroupsV2(fake_v2, "warren").ensure_user("alice", 1 << 30, 100)


def test_v2_cpu_usage_reads_usage_usec_from_cpu_stat(fake_v2):
    backend = CgroupsV2(fake_v2, "warren")
    for name, usage in (("alice", 1734567), ("bob", 42)):
        backend.ensure_user(name, 1 << 30, 100)
        (fake_v2 / "warren" / name / "cpu.stat").write_text(CPU_STAT.format(usage=usage))
    (fake_v2 / "warren" / "carol").mkdir()  # no cpu.stat yet: skipped, not an error
    assert backend.cpu_usage() == {"alice": 1734567, "bob": 42}


@pytest.mark.parametrize(
    ("shares", "weight"), [(2, 1), (3, 2), (300, 150), (700, 350), (1024, 512), (262144, 10000)]
)
def test_v2_cpu_weight_keeps_the_tarpits_ratios(fake_v2, shares, weight):
    assert shares_to_weight(shares) == weight
    backend = CgroupsV2(fake_v2, "warren")
    backend.set_cpu_shares("alice", shares)
    assert (fake_v2 / "warren" / "alice" / "cpu.weight").read_text() == str(weight)
    if shares in (2, 300, 700, 1024):  # the weights Warren sets (and the default) read back
        assert backend.cpu_shares("alice") == shares


def test_v2_pids_exhaustion_reads_pids_current_against_pids_max(fake_v2):
    backend = CgroupsV2(fake_v2, "warren")
    backend.ensure_user("alice", 1 << 30, 100)
    group = fake_v2 / "warren" / "alice"
    (group / "pids.current").write_text("100\n")
    assert backend.pids_exhausted("alice") is True
    (group / "pids.max").write_text("max\n")
    assert backend.pids_exhausted("alice") is False


def sleepers(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["sleep", "60"]) for _ in range(count)]


def test_v2_kill_all_writes_cgroup_kill_and_sweeps_what_is_left(fake_v2):
    backend = CgroupsV2(fake_v2, "warren")
    backend.ensure_user("alice", 1 << 30, 100)
    group = fake_v2 / "warren" / "alice"
    (group / "cgroup.kill").write_text("")  # the kernel's file (5.14+), write-only there
    victims = sleepers(3)
    backend.add_pids("alice", [p.pid for p in victims])
    # A fake tree never empties by itself: the sweep gives up after its timeout.
    killed = backend.kill_all("alice", os.getuid(), timeout=0.3)
    assert (group / "cgroup.kill").read_text() == "1"
    assert killed == sorted(p.pid for p in victims)
    assert [p.wait(timeout=5) for p in victims] == [-signal.SIGKILL] * 3


def test_v2_without_cgroup_kill_sweeps_one_by_one_and_restores_pids_max(fake_v2):
    backend = CgroupsV2(fake_v2, "warren")
    backend.ensure_user("alice", 1 << 30, 100)
    group = fake_v2 / "warren" / "alice"
    victims = sleepers(2)
    backend.add_pids("alice", [p.pid for p in victims])
    assert backend.kill_all("alice", os.getuid(), timeout=0.3) == sorted(p.pid for p in victims)
    assert [p.wait(timeout=5) for p in victims] == [-signal.SIGKILL] * 2
    assert not (group / "cgroup.kill").exists()
    assert (group / "pids.max").read_text() == "100"  # 0 only while the sweep ran


@pytest.mark.root
def test_v1_kill_all_ends_every_process_of_the_user_and_keeps_the_limit(client, harness, alice):
    pids = [client.spawn(user=alice, argv=["sleep", "60"])["pid"] for _ in range(3)]
    backend = detect(harness.cgroup_prefix)
    limit = Path(f"/sys/fs/cgroup/pids/{harness.cgroup_prefix}/{alice['username']}/pids.max")
    before = limit.read_text()
    killed = backend.kill_all(alice["username"], alice["uid"])
    assert killed
    assert backend.pids(alice["username"]) == []
    # Not necessarily by the sweep's own signal: killing a sandbox's init ends everything in
    # its pid namespace, so the sweep can find a sleeper already gone when it reaches it.
    assert all(gone(pid) for pid in pids)
    assert limit.read_text() == before


def gone(pid: int, timeout: float = 5.0) -> bool:
    """Whether pid ends (or is left a zombie) within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.root
def test_favordynmods_can_be_switched_on_for_cheap_migrations(uid_base):
    harness = AgentHarness(
        uid_base=uid_base,
        cgroup_prefix=f"warren-fav-{uuid.uuid4().hex[:8]}",
        extra_env={"WARREN_CGROUP_FAVOR_DYNMODS": "1"},
    )
    try:
        harness.start()
        client = harness.client()
        assert client.info()["warnings"] == []
        mounts = Path("/proc/self/mountinfo").read_text()
        assert f"{harness.run_dir}/cgroup-favordynmods " in mounts
        assert "favordynmods,name=warren-favordynmods" in mounts
        user = harness.user(1, "fav-user")
        assert client.run(user=user, argv=["true"])["returncode"] == 0
    finally:
        harness.cleanup()
    assert "warren-favordynmods" not in Path("/proc/self/mountinfo").read_text()
