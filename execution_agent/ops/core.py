"""Operations about the agent itself."""

from __future__ import annotations

import os
import re
import shutil

from execution_agent.ops import Reply, op
from execution_agent.protocol import PROTOCOL_VERSION

PYTHON_RE = re.compile(r"^python(3\.\d+)$")
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def installed_pythons() -> list[str]:
    versions = [m.group(1) for name in os.listdir("/usr/bin") if (m := PYTHON_RE.match(name))]
    return sorted(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


def boot_id() -> str | None:
    """The kernel's id of this boot (new at every reboot); None where /proc does not have it."""
    try:
        with open(BOOT_ID_PATH, encoding="ascii") as handle:
            return handle.read().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


@op("info")
def info(agent, args) -> Reply:
    """Describe this agent: protocol version, sandbox and cgroup state, warnings, Pythons, and
    which boot and which start of the agent this is."""
    return Reply(
        {
            "version": PROTOCOL_VERSION,
            "sandbox": agent.sandboxed,
            "cgroups": agent.cgroups_version,
            "root": agent.root,
            "warnings": list(agent.warnings),
            "pythons": installed_pythons(),
            "ipython": shutil.which("ipython3", path="/usr/bin:/usr/local/bin") is not None,
            "boot_id": boot_id(),
            "agent_started": agent.started,
        }
    )
