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


@op("home_mount_set", fields=("user", "source", "www_source"))
def home_mount_set(agent, args: Args) -> Reply:
    """Bind <a file server's mount>/<username> at the user's home (switching from the old), and
    optionally <its www mount>/<username> at their web directory: both or neither."""
    user = args.user()
    source = args.str("source", max_chars=4096)
    www_source = args.str("www_source", max_chars=4096, default=None)
    roots = home_mounts.configured_roots(agent.config.fileserver_mounts)
    if not roots:
        raise forbidden(f"no file server mounts are configured here ({home_mounts.VARIABLE})")
    www_roots = home_mounts.configured_roots(agent.config.fileserver_www_mounts)
    if www_source is not None and not www_roots:
        raise forbidden(
            f"no file server www mounts are configured here ({home_mounts.WWW_VARIABLE})"
        )
    wanted = [("source", source, roots, home_mounts.VARIABLE, agent.config.homes_root)]
    if www_source is not None:
        wanted.append(
            ("www_source", www_source, www_roots, home_mounts.WWW_VARIABLE, agent.config.www_root)
        )
    for field, path, allowed, variable, _ in wanted:
        _check_source(user, field, path, allowed, variable)
    if not agent.root:
        raise forbidden("home_mount_set: the agent must run as root to mount")
    binds: list[tuple[int, str]] = []
    try:
        # Every source is opened and checked before anything is switched.
        for field, path, _, _, target_root in wanted:
            try:
                fd = home_mounts.open_source(os.path.dirname(path), user.username, user.uid)
            except OSError as exc:
                raise OpError(
                    "not_found" if exc.errno == errno.ENOENT else "forbidden",
                    f"args.{field}: {path}: {exc.strerror}",
                    errno=exc.errno,
                ) from None
            binds.append((fd, str(target_root / user.username)))
        try:
            changed = home_mounts.bind_all(binds)
        except OSError as exc:
            what = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
            targets = ", ".join(target for _, target in binds)
            raise OpError("failed", f"{targets}: {what}", errno=exc.errno) from None
    finally:
        for fd, _ in binds:
            os.close(fd)
    reply = {"changed": any(changed), "target": binds[0][1]}
    if www_source is not None:
        reply.update(home_changed=changed[0], www_changed=changed[1], www_target=binds[1][1])
    return Reply(reply)


def _check_source(user, field: str, path: str, roots: list[str], variable: str) -> None:
    """``path`` is <one of ``roots``>/<username>, normalised and absolute (else refused)."""
    if not path.startswith("/") or os.path.normpath(path) != path or "\0" in path:
        raise bad_request(f"args.{field}: must be a normalised absolute path")
    root, name = os.path.split(path)
    if name != user.username:
        raise forbidden(f"args.{field}: must end in /{user.username}, the user's own directory")
    if root not in roots:
        raise forbidden(
            f"args.{field}: {root} is not a file server mount of this server "
            f"({variable}: {', '.join(roots)})"
        )


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
