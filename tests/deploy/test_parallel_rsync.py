"""deploy/migrate/parallel-rsync: one rsync per home, N at once, resumable, loud on failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import PARALLEL_RSYNC, UID_BASE, differences, make_home

pytestmark = pytest.mark.root


def migrate(source: Path, target: Path, journal: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PARALLEL_RSYNC), str(source), str(target), "--state-file", str(journal), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def many_homes(tmp_path) -> Path:
    root = tmp_path / "old"
    root.mkdir()
    for index in range(24):
        make_home(root, f"user{index:02d}", UID_BASE + index + 1, files=2)
    return root


@pytest.fixture
def immutable_files():
    """Files made immutable (chattr +i) by a test; made mutable again afterwards."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_every_home_is_copied_with_owners_and_xattrs(many_homes, tmp_path):
    target = tmp_path / "new"
    result = migrate(many_homes, target, tmp_path / "journal", "-j", "8")
    assert result.returncode == 0, result.stderr
    assert differences(many_homes, target) == []
    assert os.stat(target / "user03").st_uid == UID_BASE + 4
    assert "all 24 copied" in result.stderr


def test_progress_shows_each_home_with_counts(many_homes, tmp_path):
    result = migrate(
        many_homes, tmp_path / "new", tmp_path / "journal", "-j", "4", "--homes-per-rsync", "1"
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 24
    assert lines[-1].startswith("[24/24] ")
    assert "with 4 workers" in result.stderr


def test_small_homes_are_grouped_a_few_per_rsync(many_homes, tmp_path):
    target = tmp_path / "new"
    result = migrate(many_homes, target, tmp_path / "journal", "-j", "3")
    assert "12 rsyncs of up to 2 homes each" in result.stderr  # about four per worker
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 12
    assert "(2 homes): ok" in lines[0]
    assert lines[-1].startswith("[24/24] ")
    assert differences(many_homes, target) == []


def test_thirty_workers_by_default(many_homes, tmp_path):
    result = migrate(many_homes, tmp_path / "new", tmp_path / "journal")
    assert "with 30 workers" in result.stderr
    assert result.returncode == 0


def test_a_second_run_skips_homes_already_done(many_homes, tmp_path):
    target, journal = tmp_path / "new", tmp_path / "journal"
    migrate(many_homes, target, journal)
    (many_homes / "user05" / "changed-after.txt").write_text("not copied: user05 is done\n")
    result = migrate(many_homes, target, journal)
    assert result.returncode == 0
    assert "24 already done" in result.stderr and "copying 0" in result.stderr
    assert not (target / "user05" / "changed-after.txt").exists()


def test_restart_forgets_the_journal(many_homes, tmp_path):
    target, journal = tmp_path / "new", tmp_path / "journal"
    migrate(many_homes, target, journal)
    (many_homes / "user05" / "changed-after.txt").write_text("copied again\n")
    result = migrate(many_homes, target, journal, "--restart")
    assert "copying 24" in result.stderr
    assert (target / "user05" / "changed-after.txt").exists()


def test_a_failing_directory_is_listed_and_the_run_exits_non_zero(
    many_homes, tmp_path, immutable_files
):
    target, journal = tmp_path / "new", tmp_path / "journal"
    assert migrate(many_homes, target, journal).returncode == 0
    # A file on the new volume that cannot be replaced makes exactly one home's rsync fail.
    stuck = target / "user07" / "README.txt"
    subprocess.run(["chattr", "+i", str(stuck)], check=True)
    immutable_files.append(stuck)
    (many_homes / "user07" / "README.txt").write_text("changed at the source\n")
    (many_homes / "user11" / "README.txt").write_text("changed too, copies fine\n")
    result = migrate(many_homes, target, journal, "--restart", "--homes-per-rsync", "6")
    assert result.returncode == 1
    assert "1 of 24 FAILED:" in result.stderr
    assert "  user07  (rsync exit 23)" in result.stderr
    assert 'user07/README.txt": Operation not permitted' in result.stderr
    assert (target / "user11" / "README.txt").read_text() == "changed too, copies fine\n"
    recorded = {json.loads(line) for line in journal.read_text().splitlines()}
    assert "user07" not in recorded and len(recorded) == 23

    # Fixed, the same command retries only the failed home.
    subprocess.run(["chattr", "-i", str(stuck)], check=True)
    retry = migrate(many_homes, target, journal)
    assert retry.returncode == 0
    assert "copying 1" in retry.stderr
    assert differences(many_homes, target) == []


def test_several_failures_are_all_listed(many_homes, tmp_path, immutable_files):
    target, journal = tmp_path / "new", tmp_path / "journal"
    migrate(many_homes, target, journal)
    for name in ("user02", "user19"):
        stuck = target / name / "README.txt"
        subprocess.run(["chattr", "+i", str(stuck)], check=True)
        immutable_files.append(stuck)
        (many_homes / name / "README.txt").write_text("changed\n")
    result = migrate(many_homes, target, journal, "--restart")
    assert result.returncode == 1
    assert "2 of 24 FAILED:" in result.stderr
    assert "  user02  (rsync exit 23)" in result.stderr
    assert "  user19  (rsync exit 23)" in result.stderr


def test_an_interrupted_run_resumes_where_it_stopped(many_homes, tmp_path):
    target, journal = tmp_path / "new", tmp_path / "journal"
    process = subprocess.Popen(
        [
            str(PARALLEL_RSYNC),
            str(many_homes),
            str(target),
            "--state-file",
            str(journal),
            "-j",
            "2",
            "--rsync-option=--bwlimit=100",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (journal.exists() and journal.read_text()):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "run the same command again to resume" in stderr
    done = len(journal.read_text().splitlines())
    assert 0 < done < 24
    result = migrate(many_homes, target, journal)
    assert result.returncode == 0
    assert f"{done} already done" in result.stderr
    assert differences(many_homes, target) == []


def test_a_missing_source_exits_2(tmp_path):
    result = migrate(tmp_path / "nowhere", tmp_path / "new", tmp_path / "journal")
    assert result.returncode == 2
    assert "no such directory" in result.stderr


def test_a_migrated_home_keeps_its_acls_xattrs_and_hard_links(tmp_path):
    from tests.deploy.backup_trees import differences as manifest_differences
    from tests.deploy.backup_trees import make_rich_home, manifest

    source = tmp_path / "old"
    source.mkdir()
    make_rich_home(source, "alice", UID_BASE + 601, other_uid=UID_BASE + 602)
    done = migrate(source, tmp_path / "new", tmp_path / "journal")
    assert done.returncode == 0, done.stderr
    assert (
        manifest_differences(manifest(source / "alice"), manifest(tmp_path / "new" / "alice")) == []
    )
