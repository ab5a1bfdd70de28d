"""Operations for a move to another file server: switch a home's bind mount, stop web apps."""

from __future__ import annotations

import errno
import os
import signal
import time

from execution_agent import home_mounts, procs
from execution_agent.errors import OpError, bad_request, forbidden
from execution_agent.ops import Reply, op
from execution_agent.validation import Args

WEB_STOP_WAIT_SECONDS = 10


@op("home_mount_set", fields=("user", "source"))
def home_mount_set(agent, args: Args) -> Reply:
    """Bind <a file server's mount>/<username> at the user's home (switching from the old)."""
    user = args.user()
    source = args.str("source", max_chars=4096)
    roots = home_mounts.configured_roots(agent.config.fileserver_mounts)
    if not roots:
        raise forbidden(f"no file server mounts are configured here ({home_mounts.VARIABLE})")
    if not source.startswith("/") or os.path.normpath(source) != source or "\0" in source:
        raise bad_request("args.source: must be a normalised absolute path")
    root, name = os.path.split(source)
    if name != user.username:
        raise forbidden(f"args.source: must end in /{user.username}, the user's own home")
    if root not in roots:
        raise forbidden(
            f"args.source: {root} is not a file server mount of this server "
            f"({home_mounts.VARIABLE}: {', '.join(roots)})"
        )
    if not agent.root:
        raise forbidden("home_mount_set: the agent must run as root to mount")
    target = str(agent.config.homes_root / user.username)
    try:
        fd = home_mounts.open_source(root, user.username, user.uid)
    except OSError as exc:
        raise OpError(
            "not_found" if exc.errno == errno.ENOENT else "forbidden",
            f"args.source: {source}: {exc.strerror}",
            errno=exc.errno,
        ) from None
    try:
        changed = home_mounts.bind_home(fd, target)
    except OSError as exc:
        raise OpError("failed", f"{target}: {exc.strerror}", errno=exc.errno) from None
    finally:
        os.close(fd)
    return Reply({"changed": changed, "target": target})


@op("web_stop", fields=("user",))
def web_stop(agent, args: Args) -> Reply:
    """Stop every web app vassal of the user here (until the next web_apply/web_reload)."""
    user = args.user()
    suffix = f"-u{user.uid}.ini"
    server = agent.web
    server.ensure_prepared()
    stopped = []
    with server._lock, server.layout.locked():
        for entry in sorted(os.scandir(server.layout.vassals), key=lambda e: e.name):
            if entry.name.endswith(suffix):
                os.unlink(entry.path)
                stopped.append(entry.name[: -len(suffix)])
    if stopped:
        server.wake_emperor()
    # The Emperor ends a vassal whose ini is gone; wait for its workers, then make sure.
    deadline = time.monotonic() + WEB_STOP_WAIT_SECONDS
    while (workers := _uwsgi_processes(user.uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in workers:
        with procs.owned_pidfd(pid, user.uid) as pidfd:
            if pidfd is not None:
                procs.send(pidfd, signal.SIGKILL)
    return Reply({"stopped": stopped, "killed": len(workers)})


def _uwsgi_processes(uid: int) -> list[int]:
    found = []
    for status in procs.user_pids(uid):
        try:
            with open(f"/proc/{status.pid}/cmdline", "rb") as handle:
                if b"uwsgi" in handle.read():
                    found.append(status.pid)
        except OSError:
            continue
    return found
