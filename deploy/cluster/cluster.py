"""Warren as a cluster of "machines" on one host: network namespaces, one node each.

    python deploy/cluster/cluster.py up      start it, print where things are, Ctrl-C stops it

Nodes (each its own network, mount and UTS namespace, see ``node-exec``):

- ``db``: the cluster's own PostgreSQL (initdb in a temporary directory) and Redis.
- ``dash``: the ASGI server, Celery beat, a worker on ``default`` and ``exec.dash``, and the
  execution agent in the console and task roles. Consoles need the agent's file descriptors
  (SCM_RIGHTS over its Unix socket), so the ASGI server and a console server share a machine
  (ARCHITECTURE.md, "Roles and machines"); this cluster mirrors that.
- ``web``: the execution agent in the web role, the uWSGI Emperor and nginx, and a worker on
  ``exec.web`` (the dashboard reaches this agent through that queue: servers/agents.py).
- ``file``: the fileserver agent; its homes directory is bind-mounted into the others, as an
  NFS export would be mounted.

The test fixture (tests/cluster/conftest.py) and bench/deploy.py import this module.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: the agents' modules are imported
PG_BIN = (
    sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    if Path("/usr/lib/postgresql").exists()
    else None
)

ADDRESSES = {"db": "10.77.0.2", "dash": "10.77.0.10", "web": "10.77.0.11", "file": "10.77.0.12"}
HUB_ADDRESS = "10.77.0.1"
DASHBOARD_PORT = 8000
WEBAPPS_PORT = 8080
FILESERVER_PORT = 8701
UID_SPAN = 10_000


@dataclass
class Process:
    name: str
    node: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    """One cluster: its directories, namespaces and processes; ``up()`` then ``down()``."""

    id: str = field(default_factory=lambda: secrets.token_hex(4))
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="warren-cluster-")))
    uid_base: int = field(
        default_factory=lambda: 3_000_000 + random.SystemRandom().randrange(50_000) * UID_SPAN
    )
    processes: dict[str, Process] = field(default_factory=dict)
    worker_queues: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        os.chmod(self.base, 0o755)  # noqa: S103 - users' sandboxes traverse it
        self.secret_key = secrets.token_urlsafe(40)
        self.agent_secret = secrets.token_urlsafe(32)
        self.logs = self.base / "logs"
        self.logs.mkdir()

    # --- where things are ---------------------------------------------------------------
    def node_dir(self, node: str) -> Path:
        return self.base / "nodes" / node

    def socket_of(self, node: str) -> Path:
        return self.node_dir(node) / "run" / "execution-agent.sock"

    @property
    def dashboard_url(self) -> str:
        return f"http://{ADDRESSES['dash']}:{DASHBOARD_PORT}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@{ADDRESSES['db']}:5432/warren"

    @property
    def redis_url(self) -> str:
        return f"redis://{ADDRESSES['db']}:6379/0"

    def namespace(self, node: str) -> str:
        return f"warren-cl-{self.id}-{node}"

    def node_command(self, node: str, command: list[str]) -> list[str]:
        return [str(HERE / "node-exec"), self.id, node, str(self.base), *command]

    # --- environments -------------------------------------------------------------------
    def agent_env(self, node: str) -> dict[str, str]:
        """The execution agent's environment on ``node`` (what a systemd unit would set)."""
        root = self.node_dir(node)
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "PYTHONPATH": str(REPO),
            "WARREN_EXEC_AGENT_SOCKET": str(self.socket_of(node)),
            "WARREN_EXEC_AGENT_GROUP": "0",
            "WARREN_EXEC_AGENT_ALLOWED_UIDS": "0",
            "WARREN_HOMES_ROOT": str(root / "homes"),
            "WARREN_WWW_ROOT": str(root / "www"),
            "WARREN_UID_BASE": str(self.uid_base),
            "WARREN_UID_LAST": str(self.uid_base + UID_SPAN - 1),
            # cgroups are the host's: one prefix per node, or two agents would share users' groups.
            "WARREN_CGROUP_PREFIX": self.cgroup_prefix(node),
            "WARREN_RUN_DIR": str(root / "run"),
            "WARREN_WEB_DIR": str(root / "web"),
            "WARREN_WEBAPPS_PORT": str(WEBAPPS_PORT),
            "WARREN_WEBAPPS_ADDRESS": ADDRESSES[node],
            "WARREN_SANDBOX_NFT_TABLE": "warren",  # the node's own netns holds it
            "PYTHONUNBUFFERED": "1",
        }

    def cgroup_prefix(self, node: str) -> str:
        return f"warren-cl-{self.id}-{node}"

    def django_env(self, node: str) -> dict[str, str]:
        """Django's and Celery's environment on ``node``: shared secrets, the db node's servers."""
        return {
            **self.agent_env(node),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "WARREN_ENV": "development",
            "WARREN_VAR_DIR": str(self.node_dir(node) / "var"),
            "SECRET_KEY": self.secret_key,
            "WARREN_AGENT_SECRETS": self.agent_secret,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ALLOWED_HOSTS": f"{ADDRESSES['dash']},localhost",
            "WARREN_LOCAL_HOSTNAMES": node,
            "WARREN_FILESERVER_URL": f"http://{ADDRESSES['file']}:{FILESERVER_PORT}",
        }

    # --- processes ----------------------------------------------------------------------
    def start(self, name: str, node: str, command: list[str], env: dict[str, str]) -> Process:
        log = self.logs / f"{node}-{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                self.node_command(node, command),
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, node, popen, log)
        self.processes[name] = process
        return process

    def run(self, node: str, command: list[str], env: dict[str, str], timeout: float = 300) -> str:
        """Run a command to completion on ``node``; its output, or an error quoting it."""
        done = subprocess.run(
            self.node_command(node, command),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command} on {node} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def manage(self, node: str, *args: str) -> str:
        return self.run(node, [sys.executable, "manage.py", *args], self.django_env(node))

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, sig)
        try:
            process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait()

    def wait_for(self, node: str, port: int, timeout: float = 60, process: str = "") -> None:
        """Wait until ``node`` accepts TCP on ``port`` (asked from inside the hub)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process and self.processes[process].popen.poll() is not None:
                raise RuntimeError(f"{process} exited:\n{self.log(process)}")
            with contextlib.suppress(OSError), in_namespace(self.namespace("hub")):
                socket.create_connection((ADDRESSES[node], port), timeout=0.5).close()
                return
            time.sleep(0.1)
        raise TimeoutError(
            f"{node}:{port} not up in {timeout} s\n{self.log(process) if process else ''}"
        )

    def log(self, name: str) -> str:
        return (
            self.processes[name].log.read_text(errors="replace") if name in self.processes else ""
        )

    # --- the whole cluster ---------------------------------------------------------------
    def up(self) -> Cluster:
        """Make the namespaces and directories, then start every node; down() undoes it all."""
        nodes = [f"{node}={address}" for node, address in ADDRESSES.items()]
        subprocess.run([str(HERE / "netns"), "up", self.id, *nodes], check=True)
        for sub in ("shared/homes", "shared/www"):
            (self.base / sub).mkdir(parents=True, mode=0o755)
        for node in ADDRESSES:
            for sub in ("homes", "www", "run", "web", "var"):
                (self.node_dir(node) / sub).mkdir(parents=True, mode=0o755)
        for parent in ("shared", "nodes"):
            os.chmod(self.base / parent, 0o755)  # noqa: S103 - users' sandboxes traverse them
        self.start_db()
        self.start_dash_agent()
        self.prepare_database()
        self.start_file()
        self.start_web()
        self.start_dash()
        return self

    def start_db(self) -> None:
        data = self.node_dir("db") / "pg"
        data.mkdir(mode=0o700)
        shutil.chown(data, "postgres", "postgres")
        postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*postgres, str(PG_BIN / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write("host all all 10.77.0.0/24 trust\n")
        self.start(
            "postgres",
            "db",
            [
                *postgres,
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-c",
                f"listen_addresses={ADDRESSES['db']}",
                "-c",
                f"unix_socket_directories={data}",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
            ],
            {"PATH": os.environ["PATH"]},
        )
        self.start(
            "redis",
            "db",
            [
                "redis-server",
                "--bind",
                ADDRESSES["db"],
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
                "--dir",
                str(self.node_dir("db")),
            ],
            {"PATH": os.environ["PATH"]},
        )
        self.wait_for("db", 5432, process="postgres")
        self.wait_for("db", 6379, process="redis")
        self.run(
            "db",
            [*postgres, str(PG_BIN / "createdb"), "-h", ADDRESSES["db"], "warren"],
            {"PATH": os.environ["PATH"]},
        )

    def start_agent(self, node: str) -> None:
        self.start(
            f"agent-{node}", node, [sys.executable, "-m", "execution_agent"], self.agent_env(node)
        )
        deadline = time.monotonic() + 30
        while not self.socket_of(node).exists():
            if (
                time.monotonic() > deadline
                or self.processes[f"agent-{node}"].popen.poll() is not None
            ):
                raise RuntimeError(f"agent on {node} did not start:\n{self.log(f'agent-{node}')}")
            time.sleep(0.05)

    def start_dash_agent(self) -> None:
        self.start_agent("dash")

    def prepare_database(self) -> None:
        """Migrate, and register every machine as a row of the Servers list (the admin's job)."""
        self.manage("dash", "migrate", "--noinput")
        register = f"""
from servers.models import Server
rows = [
    ("console", "dash", {str(self.socket_of("dash"))!r}, ""),
    ("task", "dash", {str(self.socket_of("dash"))!r}, ""),
    ("web", "web", {str(self.socket_of("web"))!r}, ""),
    ("file", "file", "", "http://{ADDRESSES["file"]}:{FILESERVER_PORT}"),
]
for kind, host, sock, url in rows:
    Server.objects.update_or_create(kind=kind, hostname=host, defaults=dict(
        execution_agent_socket=sock, fileserver_agent_url=url, is_active=True))
"""
        self.manage("dash", "shell", "-c", register)

    def start_file(self) -> None:
        root = self.node_dir("file")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "WARREN_HOMES_ROOT": str(root / "homes"),
            "WARREN_WWW_ROOT": str(root / "www"),
            "WARREN_AGENT_SECRETS": self.agent_secret,
            "WARREN_AGENT_STATE_DIR": str(root / "state"),
            "WARREN_AGENT_MIN_UID": str(self.uid_base),
        }
        self.start(
            "fsagent",
            "file",
            [
                sys.executable,
                "-m",
                "fileserver_agent",
                "--host",
                ADDRESSES["file"],
                "--port",
                str(FILESERVER_PORT),
            ],
            env,
        )
        self.wait_for("file", FILESERVER_PORT, process="fsagent")

    def start_web(self) -> None:
        env = self.agent_env("web")
        self.start_agent("web")
        self.run("web", [sys.executable, "-m", "execution_agent.web.run", "prepare"], env)
        self.start(
            "emperor", "web", [sys.executable, "-m", "execution_agent.web.run", "emperor"], env
        )
        self.start("nginx", "web", [sys.executable, "-m", "execution_agent.web.run", "nginx"], env)
        self.wait_for("web", WEBAPPS_PORT, process="nginx")
        self.start_worker("web", queues=["exec.web"])

    def start_worker(
        self, node: str, *, queues: list[str], name: str = "", nodename: str = "worker"
    ) -> Process:
        self.worker_queues[node] = queues
        return self.start(
            name or f"worker-{node}",
            node,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--hostname",
                f"{nodename}@{node}",
                "--queues",
                ",".join(queues),
            ],
            self.django_env(node),
        )

    def asgi_command(self) -> list[str]:
        """The Procfile's web line on the dash node's address, under config.serve, 2 workers.

        config.serve holds the listening socket and on SIGHUP starts new workers, waits until
        they are warm (lifespan startup), then stops the old ones, whose consoles park their
        attach clients first: what deploy/upgrade's asgi step relies on.
        """
        lines = (REPO / "Procfile").read_text().splitlines()
        line = next(line for line in lines if line.startswith("web:"))
        words = [
            word for word in shlex.split(line.removeprefix("web:")) if not word.startswith("$")
        ]
        assert words[0] == "uvicorn", words
        words[words.index("--host") + 1] = ADDRESSES["dash"]
        words[words.index("--port") + 1] = str(DASHBOARD_PORT)
        words[words.index("--lifespan") + 1] = "on"  # the warm-up config.serve waits for
        # A new worker must import Django before it counts as ready: 60 s on a loaded machine.
        rolling = ["--workers", "2", "--timeout-worker-healthcheck", "60"]
        rolling += ["--timeout-graceful-shutdown", "30"]
        return [sys.executable, "-m", "config.serve", *words[1:-1], *rolling, words[-1]]

    def start_asgi(self, name: str = "asgi") -> Process:
        process = self.start(name, "dash", self.asgi_command(), self.django_env("dash"))
        self.wait_for("dash", DASHBOARD_PORT, process=name)
        return process

    def start_dash(self) -> None:
        self.start_worker("dash", queues=["default", "exec.dash"])
        self.start(
            "beat",
            "dash",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.node_dir("dash") / "var" / "beat-schedule"),
            ],
            self.django_env("dash"),
        )
        self.start_asgi()

    # --- upgrades (deploy/upgrade, given the processes' pids: no systemd here) --------------
    def upgrade(self, node: str, *arguments: str) -> str:
        command = [str(HERE.parent / "upgrade"), *arguments]
        return self.run(node, command, {**self.django_env(node), "PYTHON": sys.executable})

    def upgrade_asgi(self) -> str:
        return self.upgrade("dash", "--pid", f"asgi={self.processes['asgi'].popen.pid}", "asgi")

    def upgrade_web(self) -> str:
        return self.upgrade("web", "web")

    def upgrade_worker(self, node: str) -> str:
        """A new worker first, then the old one drained: the queue is never without one."""
        old = self.processes.pop(f"worker-{node}")
        self.processes[f"worker-{node}-old-{old.popen.pid}"] = old
        self.start_worker(
            node,
            queues=self.worker_queues[node],
            name=f"worker-{node}",
            nodename=f"w{old.popen.pid}",
        )
        said = self.upgrade(node, "--pid", f"worker={old.popen.pid}", "worker")
        old.popen.wait()
        del self.processes[f"worker-{node}-old-{old.popen.pid}"]
        return said

    def down(self) -> None:
        """Stop every process, then remove users' processes, cgroups, namespaces and files."""
        for name in reversed(list(self.processes)):
            self.stop(name, timeout=15)
        kill_uid_range(self.uid_base, self.uid_base + UID_SPAN)
        from execution_agent.teardown import remove_cgroups

        for node in ADDRESSES:
            with contextlib.suppress(OSError):
                remove_cgroups(self.cgroup_prefix(node))
        subprocess.run([str(HERE / "netns"), "down", self.id], check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def kill_uid_range(first: int, end: int) -> None:
    """SIGKILL every process whose real uid is in [first, end): users' sandboxes and vassals."""
    from execution_agent.procs import all_pids, read_status

    for _ in range(50):
        victims = [
            pid
            for pid in all_pids()
            if (status := read_status(pid))
            and status.state != "Z"
            and first <= status.real_uid < end
        ]
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


# --- entering a namespace from Python (the test's client stands in the hub) -------------------
CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


@contextlib.contextmanager
def in_namespace(name: str):
    """Sockets made by this thread in the block live in network namespace ``name``.

    Namespaces are per thread in Linux: other threads of the process stay where they were.
    """
    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{name}") as target:
        _setns(target.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


def enter_namespace(name: str) -> None:
    """Move this thread into ``name`` for good (a pool thread's initializer)."""
    with open(f"/run/netns/{name}") as target:
        _setns(target.fileno())


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] != "up":
        print(__doc__)
        return 2
    cluster = Cluster()
    try:
        cluster.up()
        print(f"cluster {cluster.id} up in {cluster.base}")
        print(
            f"  dashboard {cluster.dashboard_url}"
            f" (from: ip netns exec {cluster.namespace('hub')} ...)"
        )
        print(f"  web apps  http://{ADDRESSES['web']}:{WEBAPPS_PORT} (Host: <user>.localhost)")
        print(f"  logs      {cluster.logs}")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
