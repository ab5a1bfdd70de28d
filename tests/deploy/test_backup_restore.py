"""A backup is only a backup once it has been restored: eternal-rsync's copy of a real home,
restored with eternal-rsync restore, compared with the original down to ACLs and hard links."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.deploy.backup_trees import differences, make_rich_home, manifest
from tests.deploy.conftest import ETERNAL_RSYNC, UID_BASE

pytestmark = pytest.mark.root

ALICE, TEACHER = UID_BASE + 501, UID_BASE + 502


def tool(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ETERNAL_RSYNC), "--control-dir", str(tmp_path / "ctl"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def original(tmp_path):
    homes = tmp_path / "homes"
    homes.mkdir()
    return make_rich_home(homes, "alice", ALICE, other_uid=TEACHER)


def test_a_home_comes_back_from_the_backup_exactly(original, tmp_path):
    backup = tmp_path / "backup" / "homes"
    backup.parent.mkdir()  # the backup disk's mount point: the loop never creates it
    done = tool(tmp_path, "run", str(original.parent), str(backup), "--passes", "1", "--no-idle")
    assert done.returncode == 0, done.stderr
    assert differences(manifest(original), manifest(backup / "alice")) == []

    restored = tmp_path / "restored" / "alice"
    done = tool(tmp_path, "restore", str(backup / "alice"), str(restored))
    assert done.returncode == 0, done.stderr
    expected = manifest(original)
    assert differences(expected, manifest(restored)) == []
    # The comparison can fail: it sees an ACL, an xattr and a hard link go.
    assert expected["getfacl"]["# file: shared"].count(f"user:{TEACHER}") == 2
    assert any(len(group) == 3 for group in expected["hard link groups"])
    assert (restored / "data" / "sparse.img").stat().st_blocks * 512 < 1024 * 1024  # still sparse


def test_the_comparison_notices_what_a_plain_copy_loses(original, tmp_path):
    copy = tmp_path / "plain" / "alice"
    copy.parent.mkdir()
    subprocess.run(["cp", "-a", "--no-preserve=xattr", str(original), str(copy)], check=True)
    os.unlink(copy / "data" / "same.bin")
    (copy / "data" / "same.bin").write_bytes((original / "data" / "same.bin").read_bytes())
    os.chown(copy / "data" / "same.bin", ALICE, ALICE)
    found = differences(manifest(original), manifest(copy))
    assert any(line.startswith("hard link groups") for line in found)
    assert any(line.startswith("README.txt") and "xattrs" in line for line in found)


def test_restore_refuses_to_overwrite_a_home_that_is_there(original, tmp_path):
    backup = tmp_path / "backup" / "homes"
    backup.parent.mkdir()  # the backup disk's mount point: the loop never creates it
    tool(tmp_path, "run", str(original.parent), str(backup), "--passes", "1", "--no-idle")
    (original / "new since the backup.txt").write_text("keep me\n")
    done = tool(tmp_path, "restore", str(backup / "alice"), str(original))
    assert done.returncode == 2
    assert "not empty" in done.stderr
    assert (original / "new since the backup.txt").read_text() == "keep me\n"


def test_restore_from_a_missing_copy_says_so(tmp_path):
    done = tool(tmp_path, "restore", str(tmp_path / "nothing"), str(tmp_path / "target"))
    assert done.returncode == 2
    assert "no such directory" in done.stderr
    assert not (tmp_path / "target").exists()
