"""System checks: name every external tool Warren needs that is missing, and how to get it."""

import os
import shutil
from dataclasses import dataclass

from django.conf import settings
from django.core import checks


@dataclass(frozen=True)
class Tool:
    command: str
    package: str
    needed_for: str


TOOLS = (
    Tool("tmux", "tmux", "consoles"),
    Tool("bwrap", "bubblewrap", "the sandbox around users' processes"),
    Tool("nginx", "nginx", "the front end of users' web apps"),
    Tool("uwsgi", "uwsgi uwsgi-plugin-python3", "users' web apps"),
    Tool("rsync", "rsync", "backups and file server migrations"),
    Tool("nft", "nftables", "the firewall between users' sandboxes and Warren's own services"),
)
# Root's tools (nft) live in sbin, which an unprivileged service user's PATH may leave out.
SBIN = "/usr/sbin:/sbin"


def missing_tools() -> list[Tool]:
    path = f"{os.environ.get('PATH', os.defpath)}:{SBIN}"
    return [tool for tool in TOOLS if shutil.which(tool.command, path=path) is None]


@checks.register("warren")
def check_external_tools(app_configs=None, **kwargs):
    # Outside production a missing tool only disables a feature; in production it is fatal.
    level = checks.Error if settings.PRODUCTION else checks.Warning
    return [
        level(
            f"'{tool.command}' was not found on PATH; Warren needs it for {tool.needed_for}.",
            hint=f"Install it with: apt-get install {tool.package}",
            id=f"warren.{'E' if settings.PRODUCTION else 'W'}00{index}",
        )
        for index, tool in enumerate(missing_tools(), start=1)
    ]


@checks.register("warren")
def check_front_end_packages(app_configs=None, **kwargs):
    if (settings.NODE_MODULES / "htmx.org").is_dir():
        return []
    return [
        checks.Warning(
            "Front-end packages are not installed (node_modules/ is missing), so pages will "
            "have no styles or scripts.",
            hint="Run: npm ci",
            id="warren.W010",
        )
    ]
