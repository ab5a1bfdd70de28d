"""deploy/backup/eternal-rsync: the copy loop, its idle priority and its pause protocol."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import ETERNAL_RSYNC, differences

pytestmark = pytest.mark.root


def tool(control: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ETERNAL_RSYNC), "--control-dir", str(control), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_loop(control: Path, source: Path, target: Path, log: Path, *extra: str):
    output = open(log.with_suffix(".out"), "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            str(ETERNAL_RSYNC),
            "--control-dir",
            str(control),
            "run",
            str(source),
            str(target),
            "--log-file",
            str(log),
            *extra,
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    output.close()
    return process


def wait_for(condition, timeout: float = 60, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def state(control: Path) -> dict:
    """The loop's state file (part of the documented protocol), read without a subprocess."""
    try:
        return json.loads((control / "state").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def test_status_reports_the_state_as_json(homes, tmp_path):
    control = tmp_path / "ctl"
    tool(control, "run", str(homes), str(tmp_path / "backup"), "--passes", "1")
    status = json.loads(tool(control, "status").stdout)
    assert status["state"] == "stopped"
    assert status["passes"] == 1
    assert status["loop_running"] is False
    assert status["pause_requested"] is False


def rsync_processes_under(pid: int) -> list[int]:
    """Every rsync process whose session is the loop's child's (what the loop started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if comm == "rsync" and (parent == pid or parent in found):
            found.append(int(entry.name))
    return found


@pytest.fixture
def stop_afterwards():
    processes = []
    yield processes.append
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_passes_mirror_the_homes_with_owners_xattrs_and_deletions(homes, tmp_path):
    target, control, log = tmp_path / "backup", tmp_path / "ctl", tmp_path / "loop.log"
    target.mkdir()
    result = tool(control, "run", str(homes), str(target), "--passes", "1", "--log-file", str(log))
    assert result.returncode == 0, result.stderr
    assert differences(homes, target) == []
    assert os.getxattr(target / "alice" / "README.txt", "user.warren.note") == b"kept by -X"
    (homes / "bob" / "README.txt").unlink()
    (homes / "carol" / "new.txt").write_text("written between passes\n")
    assert tool(control, "run", str(homes), str(target), "--passes", "1").returncode == 0
    assert differences(homes, target) == []
    assert not (target / "bob" / "README.txt").exists()


def test_each_pass_and_its_duration_is_logged(homes, tmp_path):
    log = tmp_path / "loop.log"
    tool(
        tmp_path / "ctl",
        "run",
        str(homes),
        str(tmp_path / "backup"),
        "--passes",
        "2",
        "--log-file",
        str(log),
    )
    text = log.read_text()
    assert "nice -n 19 ionice -c3 rsync -aHXAS --delete --numeric-ids" in text
    assert "pass 1 started" in text
    assert "pass 1 finished in" in text and "(rsync exit 0)" in text
    assert "pass 2 finished in" in text


def test_rsync_runs_at_idle_cpu_and_io_priority(homes, tmp_path, stop_afterwards):
    (homes / "alice" / "big.bin").write_bytes(os.urandom(2_000_000))
    control = tmp_path / "ctl"
    loop = start_loop(
        control, homes, tmp_path / "backup", tmp_path / "loop.log", "--rsync-option=--bwlimit=200"
    )
    stop_afterwards(loop)
    wait_for(lambda: rsync_processes_under(loop.pid), message="rsync to start")
    rsync = rsync_processes_under(loop.pid)[0]
    nice = int((Path(f"/proc/{rsync}/stat").read_text().rsplit(")", 1)[1].split())[16])
    assert nice == 19
    assert (
        subprocess.run(["ionice", "-p", str(rsync)], capture_output=True, text=True).stdout.strip()
        == "idle"
    )
    loop.send_signal(signal.SIGTERM)
    assert loop.wait(timeout=30) == 0


def test_pause_wait_returns_once_no_rsync_runs_and_resume_carries_on(
    homes, tmp_path, stop_afterwards
):
    # A pass slowed to ~20 s, so the pause lands in the middle of it.
    (homes / "alice" / "big.bin").write_bytes(os.urandom(4_000_000))
    control, target, log = tmp_path / "ctl", tmp_path / "backup", tmp_path / "loop.log"
    loop = start_loop(control, homes, target, log, "--rsync-option=--bwlimit=200")
    stop_afterwards(loop)
    wait_for(lambda: rsync_processes_under(loop.pid), message="the pass to start")

    started = time.monotonic()
    paused = tool(control, "pause", "--wait", "--timeout", "30")
    assert paused.returncode == 0, paused.stderr
    assert time.monotonic() - started < 10, "a pause interrupts the pass, it does not wait"
    assert rsync_processes_under(loop.pid) == []
    assert state(control)["state"] == "paused"
    assert "pass 1 interrupted for a pause" in log.read_text()

    # While paused nothing reaches the target: it can be snapshotted.
    (homes / "alice" / "big.bin").unlink()
    (homes / "dave" / "during-pause.txt").write_text("not copied until resumed\n")
    time.sleep(1)
    assert not (target / "dave" / "during-pause.txt").exists()
    assert state(control)["state"] == "paused"

    assert tool(control, "resume").returncode == 0
    wait_for(lambda: (target / "dave" / "during-pause.txt").exists(), message="the next pass")
    wait_for(lambda: "finished in" in log.read_text(), message="the pass to finish")
    assert differences(homes, target) == []
    loop.send_signal(signal.SIGTERM)
    assert loop.wait(timeout=30) == 0
    assert state(control)["state"] == "stopped"


def stamp(target: Path) -> dict:
    return json.loads((target / ".warren-copy.json").read_text())


def test_a_paused_copy_says_when_it_was_taken_and_since_when_it_is_whole(
    homes, tmp_path, stop_afterwards
):
    control, target, log = tmp_path / "ctl", tmp_path / "backup", tmp_path / "loop.log"
    (homes / "alice" / "big.bin").write_bytes(os.urandom(4_000_000))
    loop = start_loop(control, homes, target, log, "--rsync-option=--bwlimit=200")
    stop_afterwards(loop)
    wait_for(lambda: rsync_processes_under(loop.pid), message="the pass to start")
    before = time.time()
    assert tool(control, "pause", "--wait", "--timeout", "30").returncode == 0
    # The first pass was cut short: the copy is stamped, but whole since no moment.
    first = stamp(target)
    assert before - 1 <= first["taken"] <= time.time() + 1
    assert first["since"] is None
    (homes / "alice" / "big.bin").unlink()
    tool(control, "resume")
    wait_for(lambda: "pass 1 finished in" in log.read_text(), message="a whole pass")
    assert (target / ".warren-copy.json").exists(), "--delete left the stamp alone"
    assert tool(control, "pause", "--wait", "--timeout", "30").returncode == 0
    second = stamp(target)
    assert first["taken"] < second["since"] <= second["taken"]
    assert differences(homes, target) == []
    assert not (homes / ".warren-copy.json").exists()
    # A restore of the whole root leaves the stamp in the copy.
    restored = tmp_path / "restored"
    assert tool(control, "restore", str(target), str(restored)).returncode == 0
    assert not (restored / ".warren-copy.json").exists()
    loop.send_signal(signal.SIGTERM)
    assert loop.wait(timeout=30) == 0


def test_a_pause_requested_before_the_loop_starts_holds_it_before_any_pass(
    homes, tmp_path, stop_afterwards
):
    control, target = tmp_path / "ctl", tmp_path / "backup"
    assert tool(control, "pause").returncode == 0
    loop = start_loop(control, homes, target, tmp_path / "loop.log")
    stop_afterwards(loop)
    wait_for(lambda: state(control).get("state") == "paused", message="the loop to hold")
    assert not target.exists()
    tool(control, "resume")
    wait_for(lambda: (target / "alice").exists(), message="the first pass")
    loop.send_signal(signal.SIGTERM)
    loop.wait(timeout=30)


def test_pause_wait_without_a_loop_returns_at_once(tmp_path):
    result = tool(tmp_path / "ctl", "pause", "--wait", "--timeout", "5")
    assert result.returncode == 0
    assert "no eternal-rsync loop is running" in result.stdout


def test_a_second_loop_on_the_same_control_dir_is_refused(homes, tmp_path, stop_afterwards):
    (homes / "alice" / "big.bin").write_bytes(os.urandom(2_000_000))
    control = tmp_path / "ctl"
    loop = start_loop(
        control, homes, tmp_path / "backup", tmp_path / "loop.log", "--rsync-option=--bwlimit=200"
    )
    stop_afterwards(loop)
    wait_for(lambda: state(control).get("state") == "running", message="the loop")
    second = tool(control, "run", str(homes), str(tmp_path / "other"), "--passes", "1")
    assert second.returncode == 1
    assert "another eternal-rsync already runs" in second.stderr
    loop.send_signal(signal.SIGTERM)
    loop.wait(timeout=30)


def test_a_failing_pass_is_logged_with_rsyncs_status(homes, tmp_path):
    log = tmp_path / "loop.log"
    result = tool(
        tmp_path / "ctl",
        "run",
        str(homes),
        str(tmp_path / "no" / "such" / "dir"),
        "--passes",
        "1",
        "--log-file",
        str(log),
    )
    assert result.returncode == 1
    assert "pass 1 FAILED" in log.read_text()
    assert "(rsync exit " in log.read_text()


def test_a_missing_source_is_refused_before_anything_runs(tmp_path):
    result = tool(tmp_path / "ctl", "run", str(tmp_path / "nowhere"), str(tmp_path / "backup"))
    assert result.returncode == 2
    assert "no such directory" in result.stderr
