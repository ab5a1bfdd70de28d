"""The web server's files: where vassals, launch specs, sockets, logs and nginx blocks live.

Layout under WARREN_WEB_DIR (no sandbox binds any of it except a user's own sockets and logs):

    vassals/            0711 root   <slug>-u<uid>.ini, owned by the user, mode 0400
    specs/              0755 root   <slug>-u<uid>.json: the bwrap command line; seccomp.bpf
    confs/<name>/       0755 root   vassal.ini as uWSGI reads it (bound at /uwsgi)
    bin/vassal-wrapper  0755 root   the Emperor's wrapper: execs bwrap from the spec
    sockets/<uid>/      0750 root:nginx's group  <slug>.sock 0660, bound by the wrapper as
                        root, inherited by the vassal on fd 3 (no sandbox sees the path)
    logs/<uid>/         0700 user   <domain>.{error,server}.log (at /var/log/webapps)
    access-logs/<uid>/  0711 root   <domain>.access.log, written by nginx
    nginx/              0755 root   nginx.conf (0600), sites/<slug>.conf, htpasswd/, pages/
    nginx/certs/<slug>/ 0700 root   <sha256>.crt and .key (0600): what nginx's master loads
    acme-challenge/<slug>/ 0755 root  HTTP-01 token files (0644), served to the ACME server
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from execution_agent import cgroups, identity
from execution_agent.config import Config
from execution_agent.seccomp import build_filter
from execution_agent.web.render import (
    render_nginx_main,
    render_wrapper,
)
from execution_agent.web.spec import AppSpec

PAGES = ("unknown.html",)
# Each user's web apps share a cgroup <prefix>/web_apps/<username>, beside the users' console
# groups under a name no username can take (no `_` in usernames): web CPU is bounded by its
# weight but kept out of the CPU-seconds sum.
WEB_CGROUP = "web_apps"
# A user's web apps together may use this many workers' worth of the per-worker memory limit
# (tmpfs included) before the kernel's OOM killer steps in; the guard kills single workers first.
WEB_MEMORY_WORKERS = 4
# cgroup v1 shares of each user's web group per worker of their apps (v2: the weight mapped
# from it). A group weighs what its workers would weigh as separate processes of the root group
# (1024 each, as nginx's workers do): with a flat 1024, an app's busy workers would share one
# process's weight beside nginx's, and a plan's extra workers would buy no CPU under contention.
# The tarpit's 2 never applies to web apps, which PythonAnywhere does not count either.
WEB_CPU_SHARES_PER_WORKER = 1024
MAX_CPU_SHARES = 262144
UWSGI_PARAMS = (
    "QUERY_STRING $query_string",
    "REQUEST_METHOD $request_method",
    "CONTENT_TYPE $content_type",
    "CONTENT_LENGTH $content_length",
    "REQUEST_URI $request_uri",
    "PATH_INFO $document_uri",
    "DOCUMENT_ROOT $document_root",
    "SERVER_PROTOCOL $server_protocol",
    "REQUEST_SCHEME $scheme",
    "HTTPS $https if_not_empty",
    "REMOTE_ADDR $remote_addr",
    "REMOTE_PORT $remote_port",
    "SERVER_PORT $server_port",
    "SERVER_NAME $server_name",
)


def system_python() -> str:
    """The interpreter the wrapper runs on: the distribution's, which every uid can execute."""
    for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("no python3 interpreter for the vassal wrapper")


def nginx_worker_user() -> tuple[str, int] | None:
    """nginx's workers drop to www-data (or nobody); they only connect to sockets."""
    for name in ("www-data", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return name, entry.pw_gid
    return None


def write_atomically(path: Path, data: bytes, *, mode: int, uid: int = -1, gid: int = -1) -> bool:
    """Replace path with data unless it already holds exactly that; True if it was written."""
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        if path.read_bytes() == data:
            st = path.lstat()
            if stat.S_IMODE(st.st_mode) == mode and uid in (-1, st.st_uid):
                return False
    # The temporary name must not end in .ini: the Emperor would take it for a vassal.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if uid != -1 or gid != -1:
            os.chown(temporary, uid, gid)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return True


def _owned_dir(path: Path, mode: int, uid: int = -1, gid: int = -1) -> Path:
    path.mkdir(mode=mode, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeError(f"{path} is not a directory")
    if (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid):
        os.chown(path, uid, gid, follow_symlinks=False)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)
    return path


class WebLayout:
    """Paths and one-time preparation of WARREN_WEB_DIR."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.web_dir
        self.vassals = self.root / "vassals"
        self.specs = self.root / "specs"
        self.confs = self.root / "confs"
        self.wrapper = self.root / "bin" / "vassal-wrapper"
        self.sockets = self.root / "sockets"
        self.logs = self.root / "logs"
        self.access_logs = self.root / "access-logs"
        self.nginx = self.root / "nginx"
        self.nginx_conf = self.nginx / "nginx.conf"
        self.nginx_pid = self.nginx / "nginx.pid"
        self.nginx_error_log = self.nginx / "error.log"
        self.sites = self.nginx / "sites"
        self.htpasswd_dir = self.nginx / "htpasswd"
        self.pages = self.nginx / "pages"
        self.certs = self.nginx / "certs"
        self.acme_challenges = self.root / "acme-challenge"
        self.uwsgi_params = self.nginx / "uwsgi_params"
        self.probe_secret_file = self.nginx / "probe-secret"
        self.ticket_key = self.nginx / "ticket.key"
        self.seccomp = self.specs / "seccomp.bpf"
        self.emperor_pid = self.root / "emperor.pid"
        self.lock_file = self.root / "lock"
        self.root_user = os.geteuid() == 0

    # --- per-app paths ------------------------------------------------------------------
    @staticmethod
    def vassal_name(spec: AppSpec) -> str:
        # The uid is part of the name: a running vassal keeps its first uid for its whole life
        # (reloads re-exec inside the same sandbox), so a reused username must make a new
        # vassal, never rewrite the old one.
        return f"{spec.slug}-u{spec.user.uid}"

    def vassal(self, spec: AppSpec) -> Path:
        return self.vassals / f"{self.vassal_name(spec)}.ini"

    def launch_spec(self, spec: AppSpec) -> Path:
        return self.specs / f"{self.vassal_name(spec)}.json"

    def vassal_conf(self, spec: AppSpec) -> Path:
        """The directory bound at /uwsgi in the sandbox. A directory, not the ini itself: a
        bind mount of a file keeps its old inode, so an atomic rewrite would go unseen."""
        return self.confs / self.vassal_name(spec)

    def vassals_of(self, slug: str) -> list[Path]:
        """Every vassal ini, launch spec and conf dir for this domain, whoever owned it.

        Exact names only: a glob `{slug}-u*` would also take `www_my-university_org-u5.ini`
        for the slug `www_my`, another user's app."""
        name = re.compile(re.escape(slug) + r"-u[0-9]+")
        found = []
        for directory, suffix in ((self.vassals, ".ini"), (self.specs, ".json"), (self.confs, "")):
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(directory):
                    stem = entry.name[: len(entry.name) - len(suffix)]
                    if entry.name.endswith(suffix) and name.fullmatch(stem):
                        found.append(Path(entry.path))
        return found

    def site(self, slug: str) -> Path:
        return self.sites / f"{slug}.conf"

    def htpasswd(self, slug: str) -> Path:
        return self.htpasswd_dir / slug

    # Keyed by uid, like the vassals: files of an earlier owner of a username stay theirs.
    def user_sockets(self, user) -> Path:
        return self.sockets / str(user.uid)

    def socket(self, spec: AppSpec) -> Path:
        return self.user_sockets(spec.user) / f"{spec.slug}.sock"

    def user_logs(self, user) -> Path:
        return self.logs / str(user.uid)

    def access_logs_of(self, user) -> Path:
        """nginx writes access logs (buffered: cheaper than uWSGI's per-request logging) as
        root, so they live in root's own directory, never in one a user could plant links in."""
        return self.access_logs / str(user.uid)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise changes across the agent's threads and the launchers' preparation."""
        self.root.mkdir(mode=0o755, parents=True, exist_ok=True)
        with open(self.lock_file, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def probe_secret(self) -> str:
        return self.probe_secret_file.read_text().strip()

    def prepare(self) -> None:
        """Create the directories and fixed files; safe to run again (each start does)."""
        with self.locked():
            self._prepare_dirs()
            self._prepare_files()

    def _prepare_dirs(self) -> None:
        os.chmod(self.root, 0o755)  # noqa: S103 - nginx and the users' wrappers traverse it
        for path, mode in (
            (self.vassals, 0o711),
            (self.specs, 0o755),
            (self.confs, 0o755),
            (self.wrapper.parent, 0o755),
            (self.sockets, 0o711),
            (self.logs, 0o711),
            (self.access_logs, 0o711),
            (self.nginx, 0o755),
            (self.sites, 0o700),
            (self.pages, 0o755),
            # Only nginx's master (root) reads keys, when it loads its configuration.
            (self.certs, 0o700),
            (self.acme_challenges, 0o755),
            (self.nginx / "tmp", 0o700),
        ):
            _owned_dir(path, mode)
        worker = nginx_worker_user() if self.root_user else None
        # nginx's workers read htpasswd files on each request; nobody else may.
        _owned_dir(self.htpasswd_dir, 0o750, 0 if worker else -1, worker[1] if worker else -1)

    def _prepare_files(self) -> None:
        # TLS session ticket key (80 bytes: AES-256 and HMAC keys), for nginx's master only.
        write_atomically(self.ticket_key, secrets.token_bytes(80), mode=0o600)
        if not self.probe_secret_file.exists():
            write_atomically(self.probe_secret_file, secrets.token_hex(24).encode(), mode=0o600)
        owner = 0 if self.root_user else os.geteuid()
        write_atomically(
            self.wrapper,
            render_wrapper(
                python=system_python(),
                specs_dir=str(self.specs),
                owner_uid=owner,
                nproc=self.config.web_nproc,
            ).encode(),
            mode=0o755,
        )
        write_atomically(self.seccomp, build_filter(), mode=0o644)
        params = "".join(f"uwsgi_param {line};\n" for line in UWSGI_PARAMS)
        write_atomically(self.uwsgi_params, params.encode(), mode=0o644)
        for page in PAGES:
            text = (Path(__file__).parent / "templates" / page).read_bytes()
            write_atomically(self.pages / f"warren-{page}", text, mode=0o644)
        worker = nginx_worker_user() if self.root_user else None
        user_line = f"user {worker[0]} {grp.getgrgid(worker[1]).gr_name};" if worker else ""
        main = render_nginx_main(
            web_dir=str(self.root),
            address=self.config.webapps_address,
            port=self.config.webapps_port,
            https_address=self.config.webapps_https_address,
            https_port=self.config.webapps_https_port,
            probe_secret=self.probe_secret(),
            user_line=user_line,
        )
        write_atomically(self.nginx_conf, main.encode(), mode=0o600)

    def prepare_user(self, spec: AppSpec, owner_uid: int) -> None:
        """The user's socket directory (root's, nginx may enter) and log directory (theirs)."""
        gid = owner_uid if self.root_user else -1
        uid = owner_uid if self.root_user else -1
        sockets = self.user_sockets(spec.user)
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(sockets).st_uid != os.geteuid():
                # Made by an earlier Warren, when vassals bound their own sockets: whatever
                # the user left in there (links to others' sockets) goes with it.
                shutil.rmtree(sockets)
        worker = nginx_worker_user() if self.root_user else None
        _owned_dir(sockets, 0o750, 0 if worker else -1, worker[1] if worker else -1)
        _owned_dir(self.user_logs(spec.user), 0o700, uid, gid)
        # Traversable: after USR1, nginx's workers (not root) reopen the logs by path.
        _owned_dir(self.access_logs_of(spec.user), 0o711)
        if self.root_user:
            etc = self.config.run_dir / "etc" / spec.user.username
            etc.mkdir(mode=0o755, parents=True, exist_ok=True)
            identity.write_if_changed(etc / "passwd", identity.passwd_text(spec.user, owner_uid))
            identity.write_if_changed(etc / "group", identity.group_text(spec.user, owner_uid))


def web_cgroups_of(config: Config):
    """The cgroup backend for users' web groups (<prefix>/web_apps/<username>)."""
    return cgroups.detect(f"{config.cgroup_prefix}/{WEB_CGROUP}")


def ensure_web_cgroup(backend, config: Config, username: str, workers: int) -> list[Path]:
    """Create the user's web cgroup with its limits, weighted for `workers` (all their apps');
    the cgroup.procs files to join."""
    memory = (config.web_worker_rss_mb << 20) * WEB_MEMORY_WORKERS
    backend.ensure_user(username, memory, config.web_nproc)
    shares = min(MAX_CPU_SHARES, WEB_CPU_SHARES_PER_WORKER * max(1, workers))
    backend.set_cpu_shares(username, shares)
    return cgroups.procs_files(backend, username)


def workers_by_user(layout: WebLayout, skip: Path | None = None) -> dict[str, int]:
    """The workers of every launch spec, summed per username (without the spec at skip)."""
    totals: dict[str, int] = {}
    for path in sorted(layout.specs.glob("*.json")):
        if path == skip:
            continue
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            launch = json.loads(path.read_text())
            username = launch["username"]
            totals[username] = totals.get(username, 0) + int(launch.get("processes", 1))
    return totals


def restore_web_cgroups(layout: WebLayout) -> list[str]:
    """Make again the web cgroups every launch spec joins (gone after a reboot), before the
    Emperor starts the vassals; the usernames whose groups could not be made."""
    backend = web_cgroups_of(layout.config)
    if not cgroups.usable(backend):
        return []
    failed = []
    for username, workers in workers_by_user(layout).items():
        try:
            ensure_web_cgroup(backend, layout.config, username, workers)
        except OSError as exc:
            failed.append(f"{username}: {exc}")
    return failed


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def process_named(pid: int | None, needle: bytes) -> bool:
    """Whether pid is alive and its command line mentions needle (guards against pid reuse)."""
    if pid is None:
        return False
    try:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def launch_spec_json(
    spec: AppSpec,
    argv: list[str],
    seccomp: Path,
    uid: int,
    *,
    socket: Path,
    socket_gid: int,
    cgroup_procs: list[Path],
) -> bytes:
    """What the wrapper needs to start the vassal: who, its socket, cgroup and bwrap argv."""
    launch = {
        "uid": uid,
        "username": spec.user.username,
        "gid": uid,
        "socket": str(socket),
        "socket_gid": socket_gid,
        "cgroup_procs": [str(path) for path in cgroup_procs],
        "processes": spec.processes,
        "seccomp": str(seccomp),
        "argv": argv,
    }
    return json.dumps(launch, indent=1).encode()
