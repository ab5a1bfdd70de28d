"""Start the web front: `python -m execution_agent.web.run emperor|nginx|prepare`.

Both read the agent's configuration (WARREN_WEB_DIR, WARREN_WEBAPPS_PORT, ...) and prepare the
web directory (idempotent). The Emperor is exec'd; nginx runs as a child of a small loop that
rotates every app's logs by size, so a process manager (honcho, systemd) supervises both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from execution_agent import creds
from execution_agent.config import Config, ConfigError, drop_secret_variables, load_config
from execution_agent.landlock import LandlockError, ruleset_for
from execution_agent.web.layout import WebLayout, restore_web_cgroups
from execution_agent.web.logs import rotate_if_big, shift_rotations
from execution_agent.web.render import LOG_MAX_BYTES

UWSGI = "/usr/bin/uwsgi"
NGINX = "/usr/sbin/nginx"
ROTATE_EVERY = 10.0
EMPEROR_WARNINGS_EXPLAINED = (
    "[warren] The uWSGI Emperor starting next runs as root on purpose, without a master "
    "process: it only starts each app's wrapper, which joins the user's web cgroup and binds "
    "the app's socket as root, then drops to the user before any app code runs, inside "
    "bubblewrap. Each app's own uWSGI has its master. uWSGI's two warnings below, 'you are "
    "running uWSGI as root' and 'without its master process manager', are expected."
)


def emperor_argv(layout: WebLayout) -> list[str]:
    """The Emperor: each vassal starts as root through the wrapper, which joins the user's web
    cgroup and binds the app's socket before it drops to the user (tyrant mode would drop
    first, and a user can neither join a cgroup nor bind where they cannot write)."""
    return [
        UWSGI,
        "--emperor",
        str(layout.vassals),
        # The mtime of the vassal file itself, never of what a symlink points at.
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
        print("usage: python -m execution_agent.web.run emperor|nginx|prepare", file=sys.stderr)
        return 2
    try:
        layout = WebLayout(load_config())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    # Neither the Emperor (and its vassals) nor nginx needs the dashboard's secrets.
    drop_secret_variables()
    layout.prepare()
    if argv[0] == "prepare":
        return 0
    if argv[0] == "nginx":
        return run_nginx(layout)
    try:
        restrict_binds(layout.config)
    except LandlockError as exc:
        print(exc, file=sys.stderr)
        return 2
    command = emperor_argv(layout)
    if os.geteuid() == 0:
        for failure in restore_web_cgroups(layout):
            print(f"[warren] web cgroup not restored: {failure}", file=sys.stderr, flush=True)
        # uWSGI will warn twice; neither is a mistake here, and an operator should know.
        print(EMPEROR_WARNINGS_EXPLAINED, file=sys.stderr, flush=True)
    os.execv(command[0], command)  # noqa: S606 - a fixed binary with our own arguments
    return 1  # not reached


def restrict_binds(config: Config) -> None:
    """The Emperor and every vassal it starts can bind no TCP port (execution_agent/landlock.py):
    a web app cannot squat nginx's or the dashboard's port. nginx itself is not restricted."""
    ruleset, warning = ruleset_for(
        config.sandbox_bind_ports, production=config.production, optional=config.landlock_optional
    )
    if ruleset is None:
        print(f"WARNING: {warning}", file=sys.stderr)
        return
    ruleset.restrict_current_thread()


def rotate_access_logs(layout: WebLayout, nginx_pid: int) -> None:
    """nginx cannot rotate by size: move big logs aside, then USR1 makes nginx reopen them."""
    rotated = False
    for path in layout.access_logs.glob("*/*.access.log"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > LOG_MAX_BYTES:
                fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
                try:
                    shift_rotations(fd, path.name)
                finally:
                    os.close(fd)
                os.replace(path, path.with_name(path.name + ".1"))
                rotated = True
    if rotated:
        with contextlib.suppress(ProcessLookupError):
            os.kill(nginx_pid, signal.SIGUSR1)


def rotate_app_logs(layout: WebLayout) -> None:
    """Rotate the vassals' error and server logs by size, as each directory's owner."""
    root = os.geteuid() == 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(layout.logs):
            if not entry.name.isdigit() or not entry.is_dir(follow_symlinks=False):
                continue
            uid = entry.stat(follow_symlinks=False).st_uid
            acting = creds.acting_as(uid, uid) if root else contextlib.nullcontext()
            try:
                with acting:
                    fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                    try:
                        for name in os.listdir(fd):
                            if name.endswith((".error.log", ".server.log")):
                                rotate_if_big(fd, name)
                    finally:
                        os.close(fd)
            except OSError as exc:
                print(f"web_run: log rotation in {entry.path}: {exc}", file=sys.stderr)


def run_nginx(layout: WebLayout) -> int:
    """nginx in the foreground; every few seconds, every app's logs are rotated by size."""
    process = subprocess.Popen(nginx_argv(layout))

    def forward(signum, frame) -> None:
        process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            return process.wait(timeout=ROTATE_EVERY)
        except subprocess.TimeoutExpired:
            rotate_access_logs(layout, process.pid)
            rotate_app_logs(layout)


if __name__ == "__main__":
    sys.exit(main())
