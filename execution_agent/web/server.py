"""Install, remove and reload web apps: vassal + launch spec, nginx block, WSGI file, test request.

Nothing a user controls is written as root and left for them: the WSGI file is created as the
user (only when missing); vassals and nginx blocks live where no sandbox reaches; every nginx
change is tested with `nginx -t` and rolled back when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import threading
import time
from pathlib import Path

from execution_agent import creds, identity
from execution_agent.errors import bad_request, forbidden, from_os_error
from execution_agent.homefs import area_as_user, home_as_user
from execution_agent.safepath import open_beneath
from execution_agent.validation import DEFAULT_TMP_BYTES, UserRef
from execution_agent.web.check import ReloadCheck
from execution_agent.web.layout import (
    WebLayout,
    ensure_web_cgroup,
    launch_spec_json,
    nginx_worker_user,
    process_named,
    read_pid,
    web_cgroups_of,
    workers_by_user,
    write_atomically,
)
from execution_agent.web.logs import AppLogs
from execution_agent.web.nginx import NginxSites
from execution_agent.web.render import (
    SANDBOX_CONF_DIR,
    SANDBOX_LOG_DIR,
    SANDBOX_VASSAL_INI,
    SiteTls,
    config_marker,
    log_name,
    render_htpasswd,
    render_site,
    render_vassal,
    render_wsgi_file,
)
from execution_agent.web.run import UWSGI
from execution_agent.web.spec import AppSpec
from execution_agent.web.tls import SiteCertificates

PROBE_TIMEOUT = 25.0


class WebServer:
    """The web role of one execution agent: every op in ops/web.py goes through here."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self.layout = WebLayout(agent.config)
        self.nginx = NginxSites(self.layout)
        self.certificates = SiteCertificates(self.layout, agent.config)
        self.logs = AppLogs(self.layout, self._as_user)
        address = (agent.config.webapps_address, agent.config.webapps_port)
        self.check = ReloadCheck(self.logs, address, self.layout.probe_secret)
        self._prepared = False
        self._lock = threading.Lock()
        self.web_cgroups = web_cgroups_of(agent.config) if agent.cgroups_active else None

    # --- shared helpers -----------------------------------------------------------------
    def ensure_prepared(self) -> None:
        if not self._prepared:
            self.layout.prepare()
            self._prepared = True

    def owner_uid(self, user: UserRef) -> int:
        return self.agent.sandbox.owner_uid(user)

    @contextlib.contextmanager
    def _as_user(self, user: UserRef):
        acting = creds.acting_as(user.uid, user.gid) if self.agent.root else None
        with acting or contextlib.nullcontext():
            yield

    # --- checks inside the home, as the user ----------------------------------------------
    def check_paths(self, spec: AppSpec) -> None:
        """Working dir, virtualenv and static dirs must exist inside the home (as the user)."""
        home = f"/home/{spec.user.username}"

        def parts(path: str) -> list[str]:
            return [part for part in path[len(home) :].split("/") if part]

        with home_as_user(self.agent, spec.user) as home_fd:
            self._need_dir(
                home_fd, parts(spec.working_dir), f"working directory {spec.working_dir}"
            )
            for mapping in spec.static:
                self._need_dir(
                    home_fd, parts(mapping.directory), f"static directory {mapping.directory}"
                )
            if spec.virtualenv:
                self._need_python(home_fd, parts(spec.virtualenv), spec.virtualenv)

    def _need_dir(self, home_fd: int, parts: list[str], what: str) -> None:
        try:
            os.close(open_beneath(home_fd, parts, os.O_PATH | os.O_DIRECTORY))
        except OSError as exc:
            error = from_os_error(exc, what)
            if error.code == "forbidden":
                raise forbidden(f"{what} leads out of your home") from None
            raise bad_request(f"{what} does not exist or is not a directory") from None

    def _need_python(self, home_fd: int, parts: list[str], virtualenv: str) -> None:
        try:
            bin_fd = open_beneath(home_fd, [*parts, "bin"], os.O_PATH | os.O_DIRECTORY)
        except OSError:
            raise bad_request(
                f"virtualenv {virtualenv} does not exist (no bin directory)"
            ) from None
        try:
            # bin/python is usually a symlink to /usr/bin/python3.x: look at it, don't follow.
            os.stat("python", dir_fd=bin_fd, follow_symlinks=False)
        except OSError:
            raise bad_request(f"virtualenv {virtualenv} has no bin/python") from None
        finally:
            os.close(bin_fd)

    # --- the WSGI file ------------------------------------------------------------------
    def install_wsgi_file(self, spec: AppSpec) -> bool:
        """Create the WSGI file as the user if it is missing; never touch an existing one."""
        text = render_wsgi_file(spec).encode()
        with area_as_user(self.agent, spec.user, "www") as www_fd:
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(spec.wsgi_file_name, flags, 0o644, dir_fd=www_fd)
            except FileExistsError:
                return False
            except OSError as exc:
                raise from_os_error(exc, f"create {spec.wsgi_file}") from None
            with os.fdopen(fd, "wb") as handle:
                handle.write(text)
        return True

    def touch_wsgi_file(self, spec: AppSpec) -> None:
        """What `touch` from a console does: uWSGI's inotify watch reloads the app."""
        with area_as_user(self.agent, spec.user, "www") as www_fd:
            try:
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                fd = os.open(spec.wsgi_file_name, flags, dir_fd=www_fd)
            except FileNotFoundError:
                raise bad_request(f"{spec.wsgi_file} does not exist") from None
            except OSError as exc:
                raise from_os_error(exc, f"open {spec.wsgi_file}") from None
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise bad_request(f"{spec.wsgi_file} is not a regular file")
                os.utime(fd)
            finally:
                os.close(fd)

    # --- the user's web cgroup -------------------------------------------------------------
    def ensure_web_cgroup(self, spec: AppSpec) -> list[Path]:
        """Create the user's web cgroup with its limits and a weight for all their apps'
        workers (this spec's replacing what its launch spec said); the cgroup.procs files."""
        if self.web_cgroups is None:
            return []
        others = workers_by_user(self.layout, skip=self.layout.launch_spec(spec))
        workers = others.get(spec.user.username, 0) + spec.processes
        return ensure_web_cgroup(self.web_cgroups, self.agent.config, spec.user.username, workers)

    # --- vassal ---------------------------------------------------------------------------
    def sandbox_argv(self, spec: AppSpec) -> list[str]:
        """bwrap for the vassal: the console sandbox's view, its own pid/ipc/uts and /tmp."""
        config, layout, user = self.agent.config, self.layout, spec.user
        argv = self.agent.sandbox.view_args(
            user,
            identity.home_of(config, user),
            www=identity.www_of(config, user),
            tmp=None,  # private to this vassal
            tmp_bytes=DEFAULT_TMP_BYTES,
        )
        # No --new-session: a session of its own is a scheduler autogroup of its own, and the
        # cross-group wakeups (nginx <-> workers) halved throughput under load (measured).
        # TIOCSTI, what a new session guards against, is refused by seccomp.
        argv += [
            "--die-with-parent",
            "--bind", str(layout.user_logs(user)), SANDBOX_LOG_DIR,
            "--ro-bind", str(layout.vassal_conf(spec)), SANDBOX_CONF_DIR,
            "--seccomp", "@SECCOMP_FD@",
            "--remount-ro", "/",
            "--chdir", f"/home/{user.username}",
            "--setenv", "HOME", f"/home/{user.username}",
            "--setenv", "USER", user.username,
            "--setenv", "LOGNAME", user.username,
            "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "LANG", "C.UTF-8",
            "--",
            UWSGI,
            "--ini",
            SANDBOX_VASSAL_INI,
        ]  # fmt: skip
        return argv

    def install_vassal(self, spec: AppSpec) -> bool:
        """Write the launch spec (root's) and the vassal ini (the user's, read-only)."""
        uid = self.owner_uid(spec.user)
        owner = (uid, uid) if self.layout.root_user else (-1, -1)
        current = self.layout.vassal_name(spec)
        changed = False
        for stale in self.layout.vassals_of(spec.slug):
            if stale.stem != current and stale.name != current:  # an earlier owner's uid
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
                changed = True
        worker = nginx_worker_user() if self.layout.root_user else None
        launch = launch_spec_json(
            spec,
            self.sandbox_argv(spec),
            self.layout.seccomp,
            uid,
            socket=self.layout.socket(spec),
            socket_gid=worker[1] if worker else -1,
            cgroup_procs=self.ensure_web_cgroup(spec),
        )
        changed |= write_atomically(self.layout.launch_spec(spec), launch, mode=0o644)
        text = render_vassal(spec).encode()
        conf = self.layout.vassal_conf(spec)
        conf.mkdir(mode=0o755, exist_ok=True)
        write_atomically(conf / "vassal.ini", text, mode=0o644)
        # The Emperor's copy: its mtime is what reloads it. Its owner only says whose it is:
        # the wrapper takes the uid from the root-owned launch spec.
        path = self.layout.vassal(spec)
        try:
            before = os.stat(path).st_mtime
        except FileNotFoundError:
            before = None
        if write_atomically(path, text, mode=0o400, uid=owner[0], gid=owner[1]):
            changed = True
            if before is not None:
                # The Emperor compares whole-second mtimes: a second change within the same
                # second as the first would go unnoticed, so move the mtime on by a second.
                mtime = max(time.time(), int(before) + 1)
                os.utime(path, (mtime, mtime), follow_symlinks=False)
        return changed

    def remove_vassal(self, slug: str) -> bool:
        removed = False
        for path in self.layout.vassals_of(slug):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed = True
        return removed

    def wake_emperor(self) -> None:
        """SIGWINCH interrupts the Emperor's wait, so it scans for new vassals at once."""
        pid = read_pid(self.layout.emperor_pid)
        if process_named(pid, b"emperor"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGWINCH)

    def emperor_running(self) -> bool:
        return process_named(read_pid(self.layout.emperor_pid), b"emperor")

    def install_htpasswd(self, spec: AppSpec) -> None:
        path = self.layout.htpasswd(spec.slug)
        if spec.auth is None:
            path.unlink(missing_ok=True)
            return
        gid = self.layout.htpasswd_dir.stat().st_gid
        write_atomically(
            path,
            render_htpasswd(spec).encode(),
            mode=0o640,
            uid=0 if self.layout.root_user else -1,
            gid=gid if self.layout.root_user else -1,
        )

    def site_text(self, spec: AppSpec, tls: SiteTls | None = None) -> str:
        config = self.agent.config
        return render_site(
            spec,
            access_log=str(self.layout.access_logs_of(spec.user) / log_name(spec.domain, "access")),
            address=self.agent.config.webapps_address,
            port=self.agent.config.webapps_port,
            socket=str(self.layout.socket(spec)),
            htpasswd=str(self.layout.htpasswd(spec.slug)),
            uwsgi_params=str(self.layout.uwsgi_params),
            acme_dir=str(self.certificates.challenge_dir(spec.slug)),
            https_address=config.webapps_https_address,
            https_port=config.webapps_https_port,
            tls=tls,
        )

    # --- the operations -----------------------------------------------------------------
    def apply(self, spec: AppSpec) -> dict:
        """Make the web server match spec: files written only where something changed."""
        self.ensure_prepared()
        if spec.enabled:
            self.check_paths(spec)
        with self._lock, self.layout.locked():
            if not spec.enabled:
                return self._disable(spec)
            self.layout.prepare_user(spec, self.owner_uid(spec.user))
            wsgi_created = self.install_wsgi_file(spec)
            self.install_htpasswd(spec)
            tls = self.certificates.install(spec)
            try:
                site_changed = self.nginx.install_site(spec.slug, self.site_text(spec, tls))
            finally:
                # Refused or not, only what the live block names stays.
                self.certificates.prune(spec.slug)
            vassal_changed = self.install_vassal(spec)
        if vassal_changed:
            self.wake_emperor()
        return {
            "wsgi_created": wsgi_created,
            "vassal_changed": vassal_changed,
            "site_changed": site_changed,
            "https": tls is not None,
            **self.status(),
        }

    def _disable(self, spec: AppSpec) -> dict:
        site_changed, vassal_changed = self._take_down(spec.slug)
        return {
            "wsgi_created": False,
            "vassal_changed": vassal_changed,
            "site_changed": site_changed,
            **self.status(),
        }

    def remove(self, user: UserRef, slug: str) -> dict:
        """Take the app off the web server; its WSGI file and logs stay the user's.

        Which user a domain belongs to is Warren's database's word (domains are unique
        there): whatever is served for the domain goes, as when it is disabled.
        """
        self.ensure_prepared()
        with self._lock, self.layout.locked():
            site_changed, vassal_changed = self._take_down(slug)
        return {"site_changed": site_changed, "vassal_changed": vassal_changed}

    def _take_down(self, slug: str) -> tuple[bool, bool]:
        """Remove the domain's nginx block, vassal and password file; (site, vassal) changed."""
        site_changed = self.nginx.install_site(slug, None)
        self.certificates.prune(slug)
        shutil.rmtree(self.certificates.challenge_dir(slug), ignore_errors=True)
        vassal_changed = self.remove_vassal(slug)
        self.layout.htpasswd(slug).unlink(missing_ok=True)
        if vassal_changed:
            self.wake_emperor()
        return site_changed, vassal_changed

    def status(self) -> dict:
        return {
            "nginx_running": self.nginx.nginx_running(),
            "emperor_running": self.emperor_running(),
        }

    def reload(self, spec: AppSpec, timeout: float = PROBE_TIMEOUT) -> dict:
        """Apply, touch the WSGI file, wait for the new app, then ask nginx for its page."""
        deadline = time.monotonic() + timeout
        server_log = log_name(spec.domain, "server")
        # Measured first: a changed vassal may restart and log "ready" before apply returns.
        starts = {
            kind: self.logs.log_position(spec.user, log_name(spec.domain, kind))
            for kind in ("server", "error")
        }
        applied = self.apply(spec)
        if not spec.enabled:
            return {**applied, "ok": True, "status": None, "message": "The web app is disabled."}
        if not applied["vassal_changed"]:
            # A changed vassal restarts anyway; touching too would only reload it twice.
            self.touch_wsgi_file(spec)
        config = config_marker(spec)
        outcome = self.check.wait_for_app(spec.user, spec.domain, starts, deadline, config)
        status = self.check.probe(spec, deadline) if outcome != "timeout" else None
        ok = status is not None and status < 500 and outcome == "ready"
        return {
            **applied,
            "ok": ok,
            "status": status,
            "message": self._message(outcome, status, applied),
            "error_log_tail": ""
            if ok
            else self.logs.tail(spec.user, log_name(spec.domain, "error"), 6000),
            "server_log_tail": "" if ok else self.logs.tail(spec.user, server_log, 3000),
        }

    @staticmethod
    def _message(outcome: str, status: int | None, applied: dict) -> str:
        if not applied["emperor_running"]:
            return "The uWSGI Emperor is not running on the web server."
        if not applied["nginx_running"]:
            return "nginx is not running on the web server."
        if outcome == "timeout":
            return "The app did not start in time: see the server and error logs."
        if outcome == "failed":
            return "Your WSGI file could not be loaded: see the error log."
        if status is None:
            return "nginx did not answer the test request."
        if status >= 500:
            return f"The test request got HTTP {status}: see the error log."
        return f"Reloaded: the test request got HTTP {status}."
