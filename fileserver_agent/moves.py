"""Copying a user's home and web directory to another file server, while they keep working.

Warren moves a user in passes (files/moves.py): copies while the user works, then a last one
once their processes are stopped. Each pass is one ``rsync -aHXAS --delete --numeric-ids`` of
the home and one of the web directory, so a pass sends only what changed since the last, and
what the backup test proves rsync keeps (owners, modes, ACLs, xattrs, hard links) is kept.

The destination is where the other server's homes and web roots are reachable from this one:
an ``rsync://host/module`` of an rsync daemon on the private network, or a path (the other
server's roots mounted here; two agents on one machine in the tests and the bench).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from fileserver_agent.errors import ApiError
from fileserver_agent.homes import owned_dir_stat

RSYNC_OPTIONS = ["-aHXAS", "--delete", "--numeric-ids"]
# 24: files vanished while being copied, normal for a live home: the next pass catches up.
ACCEPTABLE_EXITS = {0, 24}
TOOLS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def home_sync(
    *,
    homes_root: Path,
    www_root: Path,
    username: str,
    uid: int,
    homes_destination: str,
    www_destination: str,
    timeout: float,
) -> float:
    """One pass over the home and the web directory; the seconds it took."""
    home = homes_root / username
    owned_dir_stat(home, uid, what="home")
    if homes_destination.rstrip("/") == str(homes_root).rstrip("/"):
        raise ApiError(400, "bad_request", "the destination is this server's own homes root")
    started = time.monotonic()
    _rsync(home, f"{homes_destination}/{username}", timeout=timeout)
    www = www_root / username
    if www.is_dir():
        owned_dir_stat(www, uid, what="web directory")
        _rsync(www, f"{www_destination}/{username}", timeout=timeout)
    return time.monotonic() - started


def _rsync(source: Path, destination: str, *, timeout: float) -> None:
    # Contents to contents ("a/" -> "b/"): the destination directory is made or updated.
    argv = ["rsync", *RSYNC_OPTIONS, f"{source}/", f"{destination}/"]
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            timeout=timeout,
            check=False,
            env={"PATH": TOOLS_PATH, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired:
        raise ApiError(504, "timeout", f"rsync took longer than {timeout:g} s") from None
    if result.returncode not in ACCEPTABLE_EXITS:
        excerpt = result.stderr.decode(errors="replace").strip()[-600:]
        raise ApiError(502, "rsync_failed", f"rsync exited {result.returncode}: {excerpt}")
