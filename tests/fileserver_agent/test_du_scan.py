"""The du backend's incremental measurement agrees with ``du -sxB1`` through every change."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from fileserver_agent.quota.du_scan import TreeUsage

KIB = 1024
# Short enough that a test can wait for directories to become trusted, well above the
# kernel's timestamp granularity (one jiffy).
TEST_RACY_WINDOW_NS = 20_000_000


class FakeClock:
    """The monotonic clock that decides when a full rescan is due."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def du(path: Path) -> int:
    """What GNU du says: allocated bytes, one file system, hard links once."""
    return int(
        subprocess.run(
            ["du", "-sxB1", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )


def write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))


def settle() -> None:
    """Let directories changed so far become old enough to be trusted."""
    time.sleep(TEST_RACY_WINDOW_NS / 1e9 * 1.5)


@pytest.fixture
def home(tmp_path) -> Path:
    root = tmp_path / "home"
    write(root / "README.txt", 500)
    write(root / "project" / "app.py", 3 * KIB)
    write(root / "project" / "static" / "logo.png", 40 * KIB)
    write(root / ".cache" / "pip" / "wheel.whl", 200 * KIB)
    (root / "empty").mkdir()
    # A directory read within the racy window of its last change is listed again next
    # time; start the tests from a tree whose directories can be trusted.
    settle()
    return root


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tree(home, clock) -> TreeUsage:
    return TreeUsage(str(home), rescan_seconds=60, clock=clock, racy_window_ns=TEST_RACY_WINDOW_NS)


def test_the_first_measure_agrees_with_du(tree, home):
    assert tree.measure() == du(home)
    assert tree.last_scan.full


def test_an_unchanged_tree_is_re_read_without_listing_any_directory(tree, home):
    tree.measure()
    assert tree.measure() == du(home)
    assert not tree.last_scan.full
    assert tree.last_scan.dirs_listed == 0
    assert tree.last_scan.dirs_reused == 6


def test_a_new_file_in_a_nested_directory_is_seen_at_once(tree, home):
    tree.measure()
    settle()
    write(home / "project" / "static" / "big.css", 64 * KIB)
    assert tree.measure() == du(home)
    assert tree.last_scan.dirs_listed == 1  # only the directory that changed


def test_a_removed_file_is_seen_at_once(tree, home):
    tree.measure()
    settle()
    (home / ".cache" / "pip" / "wheel.whl").unlink()
    assert tree.measure() == du(home)


def test_a_recently_changed_file_growing_in_place_is_seen_at_once(tree, home):
    tree.measure()
    settle()
    with open(home / "project" / "app.py", "ab") as f:  # an upload still being written
        f.write(os.urandom(300 * KIB))
    assert tree.measure() == du(home)
    assert tree.last_scan.dirs_listed == 0


def test_a_long_untouched_file_that_grows_is_seen_within_the_rescan_period(home, clock):
    tree = TreeUsage(str(home), rescan_seconds=0.3, clock=clock, racy_window_ns=TEST_RACY_WINDOW_NS)
    tree.measure()
    time.sleep(0.4)  # every file is now older than the rescan period: "cold"
    before = du(home)
    with open(home / ".cache" / "pip" / "wheel.whl", "ab") as f:
        f.write(os.urandom(500 * KIB))
    assert tree.measure() == before, "the documented staleness: cold files are not re-read"
    clock.now += 0.5
    assert tree.measure() == du(home)
    assert tree.last_scan.full


def test_a_new_nested_tree_is_counted(tree, home):
    tree.measure()
    settle()
    for index in range(5):
        write(home / "venv" / "lib" / f"pkg{index}" / "__init__.py", (index + 1) * KIB)
    assert tree.measure() == du(home)


def test_removing_a_whole_directory_tree_is_counted(tree, home):
    tree.measure()
    settle()
    shutil.rmtree(home / "project")
    assert tree.measure() == du(home)


def test_renaming_a_directory_keeps_the_total(tree, home):
    before = tree.measure()
    settle()
    (home / "project").rename(home / "website")
    assert tree.measure() == before == du(home)


def test_moving_a_directory_in_from_outside_is_counted(tree, home, tmp_path):
    tree.measure()
    write(tmp_path / "outside" / "data" / "table.csv", 90 * KIB)
    settle()
    (tmp_path / "outside" / "data").rename(home / "project" / "data")
    assert tree.measure() == du(home)


def test_a_file_replaced_by_a_directory_is_counted(tree, home):
    tree.measure()
    settle()
    (home / "README.txt").unlink()
    write(home / "README.txt" / "index.md", 8 * KIB)
    assert tree.measure() == du(home)


def test_hard_links_are_counted_once(tree, home):
    os.link(home / ".cache" / "pip" / "wheel.whl", home / "project" / "wheel-copy.whl")
    assert tree.measure() == du(home)
    settle()
    (home / ".cache" / "pip" / "wheel.whl").unlink()
    assert tree.measure() == du(home)


def test_symlinks_are_not_followed_out_of_the_home(tree, home, tmp_path):
    write(tmp_path / "elsewhere" / "huge.bin", 2048 * KIB)
    (home / "link-to-file").symlink_to(tmp_path / "elsewhere" / "huge.bin")
    (home / "link-to-dir").symlink_to(tmp_path / "elsewhere")
    assert tree.measure() == du(home)
    assert tree.measure() < 2048 * KIB


def test_a_directory_swapped_for_a_symlink_between_reads_is_not_followed(tree, home, tmp_path):
    write(tmp_path / "elsewhere" / "huge.bin", 2048 * KIB)
    tree.measure()
    settle()
    shutil.rmtree(home / "project")
    (home / "project").symlink_to(tmp_path / "elsewhere")
    assert tree.measure() == du(home)
    assert tree.measure() < 2048 * KIB


def test_sparse_files_count_what_is_allocated_not_their_length(tree, home):
    with open(home / "sparse.img", "wb") as f:
        f.truncate(100 * 1024 * KIB)
    assert tree.measure() == du(home)
    assert tree.measure() < 1024 * KIB


def test_a_very_deep_tree_is_measured_without_recursion(tree, home):
    deep = home
    for _ in range(400):
        deep = deep / "d"
    write(deep / "bottom.txt", KIB)
    assert tree.measure() == du(home)


@pytest.mark.root
def test_another_file_system_mounted_inside_is_not_crossed(tree, home):
    mount_point = home / "mnt"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], check=True)
    try:
        write(mount_point / "on-tmpfs.bin", 4096 * KIB)
        assert tree.measure() == du(home)
        assert tree.measure() < 4096 * KIB
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_random_sequence_of_changes_always_agrees_with_du(tree, home):
    rng = random.Random(20240317)
    files = [p for p in home.rglob("*") if p.is_file()]
    dirs = [p for p in home.rglob("*") if p.is_dir()]
    for step in range(40):
        settle()
        action = rng.choice(["add", "grow", "shrink", "remove", "mkdir", "rmdir", "rename"])
        if action == "add" or not files:
            path = rng.choice(dirs or [home]) / f"f{step}.dat"
            write(path, rng.randrange(0, 64 * KIB))
            files.append(path)
        elif action == "grow":
            with open(rng.choice(files), "ab") as f:
                f.write(os.urandom(rng.randrange(1, 128 * KIB)))
        elif action == "shrink":
            os.truncate(rng.choice(files), rng.randrange(0, 4 * KIB))
        elif action == "remove":
            path = files.pop(rng.randrange(len(files)))
            path.unlink()
        elif action == "mkdir":
            path = rng.choice(dirs or [home]) / f"d{step}"
            path.mkdir()
            dirs.append(path)
        elif action == "rmdir" and dirs:
            victim = dirs.pop(rng.randrange(len(dirs)))
            shutil.rmtree(victim)
            files = [p for p in files if victim not in p.parents]
            dirs = [p for p in dirs if victim not in p.parents]
        elif action == "rename" and dirs:
            source = dirs[rng.randrange(len(dirs))]
            target = home / f"moved{step}"
            source.rename(target)
            files = [p for p in home.rglob("*") if p.is_file()]
            dirs = [p for p in home.rglob("*") if p.is_dir()]
        assert tree.measure() == du(home), f"step {step}: {action}"
