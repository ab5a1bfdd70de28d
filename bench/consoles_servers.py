"""The servers bench.consoles measures: Warren (the Procfile's ASGI server on a throw-away
database, beside a real fileserver agent for the dashboard) and terminado (its TermSocket in a
tornado process), plus the process-memory helpers both measurements use.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import requests
import websockets

from execution_agent.testing.harness import AgentHarness, free_port, wait_for_port
from fileserver_agent.testing import AgentProcess, du_agent_environment
from tests.live import procfile_web_command

REPO = Path(__file__).resolve().parent.parent
ASGI_APP = "config.asgi:application"


def rss_bytes(pid: int, field: str = "Rss") -> int:
    """VmRSS (or Pss) of one process, from smaps_rollup."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^Uid:\s+(\d+)", status, re.M)
            if match and int(match[1]) == uid:
                pids.append(int(entry))
    return pids


def descendants(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                children.append(int(entry))
    return children + [grandchild for child in children for grandchild in descendants(child)]


# --- Warren ---------------------------------------------------------------------------------


class Fileserver(AgentProcess):
    """The fileserver agent (du backend) on the harness's homes: the dashboard's storage card."""

    def __init__(self, harness: AgentHarness, base: Path) -> None:
        self.secret = secrets.token_urlsafe(32)
        env = du_agent_environment(
            homes=harness.homes,
            www=harness.www,
            state=base / "fileserver-state",
            secret=self.secret,
            min_uid=harness.uid_base,
        )
        super().__init__(env, base)
        self.start(timeout=20)


class Warren:
    """A Django database, a user and the ASGI server, all under one temporary directory."""

    def __init__(self, harness: AgentHarness, base: Path, fileserver: Fileserver) -> None:
        self.harness = harness
        self.base = base
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "WARREN_ENV": "development",
            "WARREN_VAR_DIR": str(base / "var"),
            "WARREN_UID_BASE": str(harness.uid_base),
            "WARREN_EXEC_AGENT_SOCKET": str(harness.socket_path),
            "WARREN_HOMES_ROOT": str(harness.homes),
            "WARREN_WWW_ROOT": str(harness.www),
            "WARREN_RUN_DIR": str(harness.run_dir),
            "WARREN_FILESERVER_URL": fileserver.url,
            "WARREN_AGENT_SECRETS": fileserver.secret,
            "WARREN_CELERY_EAGER": "1",
            # 200 consoles: bash, tmux client and bubblewrap each, all in the user's cgroup.
            "WARREN_SANDBOX_PIDS_MAX": "8192",
            "WARREN_SANDBOX_MEMORY_BYTES": str(16 * 1024**3),
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.user, self.cookie = self._user()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(base / "web.log", "w")  # noqa: SIM115 - closed in stop()
        # The server and options the Procfile runs, so the bench measures what users get.
        self.process = subprocess.Popen(
            procfile_web_command(self.port),
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, process=self.process)
        self.http = requests.Session()
        self.http.headers["Cookie"] = self.cookie
        page = self.http.get(f"{self.url}/consoles/", timeout=30)
        self.csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page.text)[1]
        self.http.headers["Cookie"] = f"{self.cookie}; csrftoken={self.csrf}"

    def _user(self):
        from django.test import Client

        from accounts.models import Plan, User
        from servers.services import servers_register_local

        servers_register_local()
        # A plan without a console limit: 200 consoles at once is the point here.
        unlimited = Plan.objects.filter(max_consoles=None).order_by("monthly_price_minor").first()
        user = User.objects.create_user(
            "bench", "bench@example.com", "not used here", plan=unlimited
        )
        self.harness.user(user.pk, user.username)
        client = Client()
        client.force_login(user)
        return user, f"sessionid={client.cookies['sessionid'].value}"

    def start_console(self) -> str:
        response = self.http.post(
            f"{self.url}/consoles/new/",
            data={"kind": "bash", "csrfmiddlewaretoken": self.csrf},
            allow_redirects=False,
            timeout=30,
        )
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not re.fullmatch(r"/consoles/[0-9a-f]{32}/", location):
            page = self.http.get(f"{self.url}/consoles/", timeout=30).text
            said = re.findall(r'<p class="message[^"]*">([^<]+)</p>', page)
            raise RuntimeError(f"console not started: {response.status_code} {said}")
        return location.strip("/").split("/")[-1]

    def kill_console(self, console_id: str) -> None:
        self.http.post(
            f"{self.url}/consoles/{console_id}/kill/",
            data={"csrfmiddlewaretoken": self.csrf},
            allow_redirects=False,
            timeout=30,
        )

    def connect(self, console_id: str):
        return websockets.connect(
            f"ws://127.0.0.1:{self.port}/ws/consoles/{console_id}/?rows=24&cols=80",
            additional_headers={"Cookie": self.cookie, "Origin": self.url},
            max_size=None,
            ping_interval=None,  # a flood keeps the client busy; pings would time out
        )

    def dashboard_ms(self, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            response = self.http.get(f"{self.url}/", timeout=30)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        return samples

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# --- terminado ------------------------------------------------------------------------------


def serve_terminado(port: int) -> None:
    """Run terminado's demo setup: one new bash per websocket (UniqueTermManager)."""
    import signal

    import tornado.ioloop
    import tornado.web
    from terminado import TermSocket, UniqueTermManager

    manager = UniqueTermManager(
        shell_command=["bash", "--norc", "--noprofile"],
        extra_env={"PS1": "$ ", "TERM": "xterm-256color"},
        max_terminals=1000,
    )

    class NoDelayTermSocket(TermSocket):
        """TermSocket with Nagle off: the strongest anchor, not stock terminado.

        Stock, the prompt that follows the "setup" frame waits for its delayed ACK (about 40
        ms of the open); Warren's server sends with TCP_NODELAY, so both do here.
        """

        def open(self, *args, **kwargs):
            self.set_nodelay(True)
            return super().open(*args, **kwargs)

    # A bench started in the background by a non-interactive shell has SIGINT ignored, and an
    # ignored signal stays ignored across fork and exec: terminado's shells, and the `yes` in
    # them, would never see a Ctrl-C (the bench hung in its yes-then-Ctrl-C figure). Warren's
    # shells do not inherit it: tmux resets the signals of what it starts.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    app = tornado.web.Application([(r"/websocket", NoDelayTermSocket, {"term_manager": manager})])
    app.listen(port, "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
