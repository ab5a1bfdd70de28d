"""bin/run's WARREN_HOMES_IMAGE (homes on a btrfs loop image) and batteries, run for real."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fileserver_agent.testing import BtrfsImage
from tests.deploy.test_run import bash

pytestmark = pytest.mark.skipif(
    bool(BtrfsImage.unavailable()), reason=f"no loop-mounted btrfs: {BtrfsImage.unavailable()}"
)


@pytest.fixture
def var_dir():
    base = Path(tempfile.mkdtemp(prefix="warren-quota-run-", dir="/tmp"))
    yield base
    homes = base / "homes"
    if homes.is_mount():
        bash(f'stop_homes_image "{homes}"')
    shutil.rmtree(base)


def mounted_btrfs(path: Path) -> bool:
    return any(
        line.split()[1] == str(path) and line.split()[2] == "btrfs"
        for line in Path("/proc/self/mounts").read_text().splitlines()
    )


def test_the_image_is_made_once_mounted_on_the_homes_root_and_unmounted_on_exit(var_dir):
    image, homes = var_dir / "homes.img", var_dir / "homes"
    started = bash(
        f'start_homes_image 160M "{image}" "{homes}"; echo "backend=$WARREN_AGENT_BACKEND"'
    )
    assert started.returncode == 0, started.stderr
    assert "backend=btrfs" in started.stdout
    assert mounted_btrfs(homes) and image.stat().st_size == 160 * 1024 * 1024
    assert (os.stat(homes).st_mode & 0o777) == 0o755
    (homes / "kept").write_text("still here after a restart")
    assert bash(f'stop_homes_image "{homes}"').returncode == 0
    assert not mounted_btrfs(homes) and not (homes / "kept").exists()
    again = bash(f'start_homes_image 160M "{image}" "{homes}"')
    assert again.returncode == 0, again.stderr
    assert "creating" not in again.stdout
    assert (homes / "kept").read_text() == "still here after a restart"
    bash(f'stop_homes_image "{homes}"')


def test_existing_plain_homes_are_not_hidden_under_a_new_image(var_dir):
    homes = var_dir / "homes"
    (homes / "alice").mkdir(parents=True)
    result = bash(f'start_homes_image 160M "{var_dir}/homes.img" "{homes}"')
    assert result.returncode != 0
    assert "already holds homes" in result.stderr and "Convert them" in result.stderr
    assert not mounted_btrfs(homes) and not (var_dir / "homes.img").exists()


def test_batteries_from_a_broken_list_leave_nothing_behind(tmp_path):
    """ensure_batteries answers in an if, where set -e is off: each failing step must say so."""
    listing = tmp_path / "list.txt"
    listing.write_text("this is not === a requirement\n")
    result = bash(f'if ensure_batteries "{listing}" "{tmp_path}/b"; then echo built; fi')
    assert "built" not in result.stdout
    assert not (tmp_path / "b" / ".installed.sha256").exists()
    assert not (tmp_path / "b" / "site-packages").exists()
