"""Letting a teacher's uid into a student's home with POSIX ACLs, and taking it back.

``setfacl`` runs as the home's owner, never as root: the owner may change the ACL of what
they own and nothing else, so a symlink a student planted (to /etc/shadow, to someone else's
home) gains the teacher nothing, and a swap during the walk cannot steer a root process.
``-P`` keeps the walk from following links at all. Default ACL entries on every folder make
what anyone creates there later inherit the grant.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from fileserver_agent.errors import ApiError
from fileserver_agent.homes import owned_dir_stat

TOOLS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
STDERR_EXCERPT_CHARS = 600


@dataclass(frozen=True)
class AclResult:
    path: str
    skipped: int  # entries the owner could not change (owned by someone else)


def home_acl_change(
    *,
    homes_root: Path,
    username: str,
    owner_uid: int,
    grantee_uid: int,
    grant: bool,
    timeout: float,
) -> AclResult:
    """Grant (rwX, recursive, with defaults) or revoke ``grantee_uid`` on a home."""
    if grantee_uid == owner_uid:
        raise ApiError(400, "bad_request", "a home's owner needs no ACL on it")
    home = homes_root / username
    st = owned_dir_stat(home, owner_uid, what="home")
    if grant:
        spec = ["-m", f"u:{grantee_uid}:rwX,d:u:{grantee_uid}:rwX"]
    else:
        spec = ["-x", f"u:{grantee_uid},d:u:{grantee_uid}"]
    # "." from inside the home: the chdir happens as root, before the switch to the owner, so
    # the owner need not be able to walk the homes root (and no path is resolved as root
    # beneath the home).
    argv = ["setfacl", "-R", "-P", *spec, "--", "."]
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            timeout=timeout,
            check=False,
            env={"PATH": TOOLS_PATH, "LC_ALL": "C"},
            user=owner_uid,
            group=st.st_gid,
            extra_groups=[],
            cwd=home,
        )
    except FileNotFoundError:
        raise ApiError(503, "unavailable", "setfacl is not installed (Debian: acl)") from None
    except subprocess.TimeoutExpired:
        raise ApiError(504, "timeout", f"setfacl took longer than {timeout:g} s") from None
    stderr = result.stderr.decode(errors="replace")
    refused = [line for line in stderr.splitlines() if "Operation not permitted" in line]
    if result.returncode != 0 and len(refused) != len(stderr.splitlines()):
        excerpt = stderr.strip()[-STDERR_EXCERPT_CHARS:]
        if "Operation not supported" in stderr:
            raise ApiError(503, "unsupported", f"the homes' filesystem has no ACLs: {excerpt}")
        raise ApiError(500, "failed", f"setfacl exited {result.returncode}: {excerpt}")
    return AclResult(path=str(home), skipped=len(refused))
