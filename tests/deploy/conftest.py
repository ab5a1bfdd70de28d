"""Small real trees of homes for the backup and migration tools."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ETERNAL_RSYNC = REPO_ROOT / "deploy" / "backup" / "eternal-rsync"
PARALLEL_RSYNC = REPO_ROOT / "deploy" / "migrate" / "parallel-rsync"
UID_BASE = int(os.environ.get("WARREN_UID_BASE", 3_000_000 + 10_000 * random.randrange(1, 100)))


def make_home(root: Path, name: str, uid: int, *, files: int = 5) -> Path:
    """A home like a user's: nested files, a symlink, an xattr, owned by ``uid``."""
    home = root / name
    (home / "project" / "static").mkdir(parents=True)
    for index in range(files):
        (home / "project" / f"module{index}.py").write_text(f"print({index})\n" * (index + 1))
    (home / "project" / "static" / "logo.png").write_bytes(os.urandom(4096))
    (home / "README.txt").write_text(f"hello {name}\n")
    (home / "latest").symlink_to("project/module0.py")
    os.setxattr(home / "README.txt", "user.warren.note", b"kept by -X")
    for path in [home, *home.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
    home.chmod(0o700)
    return home


@pytest.fixture
def homes(tmp_path) -> Path:
    """A homes root with a few users."""
    root = tmp_path / "homes"
    root.mkdir()
    for index, name in enumerate(["alice", "bob", "carol", "dave"]):
        make_home(root, name, UID_BASE + index + 1)
    return root


def differences(source: Path, target: Path) -> list[str]:
    """What rsync would still change (contents by checksum, owners, modes, xattrs); [] if equal."""
    result = subprocess.run(
        [
            "rsync",
            "-aXAScni",
            "--delete",
            "--numeric-ids",
            # The copy's own stamp (eternal-rsync's .warren-copy.json) is not a difference.
            "--exclude=/.warren-copy.json",
            f"{source}/",
            f"{target}/",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if line and not line.startswith(".d..t")]
