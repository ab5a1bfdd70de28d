"""Start the web front: `python -m execution_agent.web_run emperor|nginx|prepare`.

Both read the agent's configuration (WARREN_WEB_DIR, WARREN_WEBAPPS_PORT, ...), prepare the web
directory (idempotent) and then exec the real program in the foreground, so a process manager
(honcho, systemd) supervises uWSGI and nginx themselves.
"""

from __future__ import annotations

import os
import sys

from execution_agent.config import ConfigError, load_config
from execution_agent.webfront import WebLayout

UWSGI = "/usr/bin/uwsgi"
NGINX = "/usr/sbin/nginx"


def emperor_argv(layout: WebLayout) -> list[str]:
    """The Emperor in tyrant mode: each vassal runs as its file's owner, through the wrapper."""
    return [
        UWSGI,
        "--emperor",
        str(layout.vassals),
        "--emperor-tyrant",
        # Owner and mtime of the vassal file itself, never of what a symlink points at.
        "--emperor-tyrant-nofollow",
        "--emperor-nofollow",
        "--emperor-wrapper",
        str(layout.wrapper),
        "--emperor-pidfile",
        str(layout.emperor_pid),
        # The agent sends SIGWINCH after writing a vassal; this is only the fallback scan.
        "--emperor-freq",
        "2",
        "--emperor-throttle",
        "500",
        "--emperor-max-throttle",
        "30000",
        "--reload-mercy",
        "10",
        "--die-on-term",
        "--emperor-procname",
        "warren-emperor",
    ]


def nginx_argv(layout: WebLayout) -> list[str]:
    return [
        NGINX,
        "-p",
        f"{layout.nginx}/",
        "-c",
        str(layout.nginx_conf),
        "-g",
        "daemon off;",
    ]


def main(argv: list[str] | None = None) -> int:
    """Prepare WARREN_WEB_DIR, then exec the Emperor or nginx (or stop after preparing)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in ("emperor", "nginx", "prepare"):
        print("usage: python -m execution_agent.web_run emperor|nginx|prepare", file=sys.stderr)
        return 2
    try:
        layout = WebLayout(load_config())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    layout.prepare()
    if argv[0] == "prepare":
        return 0
    command = emperor_argv(layout) if argv[0] == "emperor" else nginx_argv(layout)
    os.execv(command[0], command)  # noqa: S606 - a fixed binary with our own arguments
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
