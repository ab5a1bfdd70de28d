"""A fileserver agent of a test's own, on a fixed free port so it can be stopped and started
again at the same address (what a file server rebooting looks like to Warren); two of them
for moves, mounted where the execution agent binds homes from (tests of moves and mounts)."""

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

from django.conf import settings

from execution_agent.home_mounts import mounts_at
from execution_agent.teardown import unmount_beneath
from execution_agent.testing.harness import free_port
from fileserver_agent.testing import AgentProcess, du_agent_environment
from servers.models import Server
from tests.factories import UserFactory


class RestartableFileserver(AgentProcess):
    """A du-backend agent on the given roots, on a fixed port: stoppable and restartable."""

    def __init__(self, *, homes: Path, www: Path, state: Path) -> None:
        env = du_agent_environment(
            homes=homes,
            www=www,
            state=state / "agent-state",
            secret=settings.WARREN_AGENT_SECRETS[0],
            min_uid=settings.WARREN_UID_BASE,
        )
        super().__init__(env, state, port=free_port())
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = state

    def forget_quotas(self) -> None:
        """Lose the recorded limits, as a crash can (the seed's lost XFS quotas)."""
        for path in (self.state / "agent-state").glob("limits.log*"):
            path.unlink()

    def wait_until(self, condition, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {timeout} s; agent log:\n{self.log()}")
            time.sleep(0.1)


@contextlib.contextmanager
def backed_up_fileserver(exec_agent, tmp_path):
    """A fileserver agent keeping last night's copy of the homes (WARREN_SNAPSHOT_ROOT), with
    ``.user(username)`` (a user with a home on it) and ``.back_up(user)`` (the backup loop's
    pass over that home into the copy)."""
    from files import tasks
    from servers.models import Server
    from tests.deploy.conftest import ETERNAL_RSYNC
    from tests.factories import UserFactory

    snapshots = tmp_path / "snapshot"
    snapshots.mkdir()
    agent = RestartableFileserver(homes=exec_agent.homes, www=exec_agent.www, state=tmp_path)
    agent.env["WARREN_SNAPSHOT_ROOT"] = str(snapshots)
    agent.start()
    server = Server.objects.create(
        kind=Server.Kind.FILE, hostname=f"fs-{agent.port}", fileserver_agent_url=agent.url
    )
    made = []

    def user(username):
        made.append(UserFactory(username=username, file_server=server))
        tasks.home_create.apply(args=[made[-1].pk])
        return made[-1]

    def back_up(person):
        command = [str(ETERNAL_RSYNC), "--control-dir", str(tmp_path / "ctl"), "run"]
        command += [str(exec_agent.homes / person.username), str(snapshots / person.username)]
        subprocess.run([*command, "--passes", "1", "--no-idle"], check=True, capture_output=True)

    agent.user = user
    agent.back_up = back_up
    agent.snapshot_root = snapshots
    try:
        yield agent
    finally:
        agent.stop()
        exec_agent.kill_user_processes({person.uid for person in made})
        for person in made:
            for root in (exec_agent.homes, exec_agent.www):
                shutil.rmtree(root / person.username, ignore_errors=True)


class TwoFileServers:
    """Two fileserver agents on this machine with homes roots of their own."""

    def __init__(self, tmp_path, source_homes=None, homes_roots=None, www_roots=None):
        self.agents, self.servers = [], []
        for index, name in enumerate(("a", "b")):
            root = tmp_path / name
            homes = source_homes if name == "a" and source_homes else root / "homes"
            homes = homes_roots[index] if homes_roots else homes
            www = www_roots[index] if www_roots else root / "www"
            for path in (homes, www):
                path.mkdir(parents=True, exist_ok=True)
            agent = RestartableFileserver(homes=homes, www=www, state=root)
            agent.homes, agent.www = homes, www
            agent.start()
            self.agents.append(agent)
            self.servers.append(
                Server.objects.create(
                    kind=Server.Kind.FILE,
                    hostname=f"fs-{name}-{agent.port}",
                    fileserver_agent_url=agent.url,
                )
            )

    def stop(self):
        for agent in self.agents:
            agent.stop()


def mover(two, username="alice"):
    """A user with a home on the first server: a thesis, some data and a WSGI file."""
    from files import tasks
    from tests.files.conftest import put  # conftest imports this module

    user = UserFactory(username=username, file_server=two.servers[0])
    tasks.home_create.apply(args=[user.pk])
    home = two.agents[0].homes / username
    put(home / "thesis" / "chapter1.md", "# one\n" * 1000, user)
    put(home / "data.bin", b"\x00\x01" * 500_000, user)
    (two.agents[0].www / username / "wsgi.py").write_text("application = None\n")
    return user, home


def two_mounted(exec_agent, tmp_path, settings, *, www: bool):
    """TwoFileServers at the execution agent's fileserver mounts, named in Django's settings
    (and their web directories too with ``www``); everything of "mover" undone after."""
    roots = [exec_agent.fileserver_mounts["fs-1"], exec_agent.fileserver_mounts["fs-2"]]
    www_roots = [exec_agent.fileserver_www_mounts[name] for name in ("fs-1", "fs-2")]
    two = TwoFileServers(tmp_path, homes_roots=roots, www_roots=www_roots if www else None)
    settings.WARREN_FILESERVER_MOUNTS = {
        server.hostname: str(root) for server, root in zip(two.servers, roots, strict=True)
    }
    if www:
        settings.WARREN_FILESERVER_WWW_MOUNTS = {
            server.hostname: str(root) for server, root in zip(two.servers, www_roots, strict=True)
        }
    yield two
    for target in (exec_agent.homes / "mover", exec_agent.www / "mover"):
        unmount_beneath(target)
    two.stop()
    for root in [*roots, *www_roots, exec_agent.homes, exec_agent.www]:
        shutil.rmtree(root / "mover", ignore_errors=True)


def is_mounted(path) -> bool:
    return mounts_at(str(path)) > 0
