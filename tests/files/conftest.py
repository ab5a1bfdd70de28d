"""Fixtures for the Files tab: alice and mallory provisioned for real (homes made by the
fileserver agent, files reached through the execution agent), and URL helpers."""

import os
import shutil

import pytest
from django.urls import reverse

from accounts.limits import LIMIT_FIELDS, effective_limits
from accounts.models import Plan, User
from files.fileserver import client_for_user
from servers.models import Server
from tests.factories import UserFactory
from tests.files.fileservers import RestartableFileserver, TwoFileServers, two_mounted


@pytest.fixture
def alice(user, provisioned):
    """The owner, with a real home and web directory."""
    return provisioned(user)


@pytest.fixture
def mallory(outsider, provisioned):
    """Someone else with a real home, whose files alice must never reach."""
    return provisioned(outsider)


@pytest.fixture
def home(alice, exec_agent):
    """alice's home on the host."""
    return exec_agent.homes / alice.username


@pytest.fixture
def www(alice, exec_agent):
    """alice's web directory on the host (/var/www in her sandboxes)."""
    return exec_agent.www / alice.username


@pytest.fixture
def own_fileserver(exec_agent, tmp_path):
    """A fileserver agent of this test's own, registered as a file server; users made on it."""
    agent = RestartableFileserver(homes=exec_agent.homes, www=exec_agent.www, state=tmp_path)
    agent.start()
    server = Server.objects.create(
        kind=Server.Kind.FILE, hostname=f"fs-{agent.port}", fileserver_agent_url=agent.url
    )
    made = []

    def user_on_it(username: str, **fields) -> User:
        made.append(UserFactory(username=username, file_server=server, **fields))
        return made[-1]

    agent.server = server
    agent.user_on_it = user_on_it
    try:
        yield agent
    finally:
        agent.stop()
        for user in made:
            for root in (exec_agent.homes, exec_agent.www):
                shutil.rmtree(root / user.username, ignore_errors=True)


MIB = 1024 * 1024


def hard_limit(user) -> int:
    """The hard disk limit the user's fileserver agent has recorded for them."""
    return client_for_user(user).get_usage(user.uid).hard_bytes


def plan(slug: str) -> Plan:
    return Plan.objects.get(slug=slug)


def with_disk(user, disk_bytes: int) -> dict:
    """custom_limits_set arguments: the user's current limits with another disk size."""
    limits = effective_limits(user)
    return {**{field: getattr(limits, field) for field in LIMIT_FIELDS}, "disk_bytes": disk_bytes}


def url(name: str, path: str) -> str:
    """A Files URL: ``url("browse", "home/alice/")``."""
    return reverse(f"files:{name}", kwargs={"path": path})


def put(path, data: bytes | str, owner) -> None:
    """Create a file (and its folders) in a home as its owner would have (tests run as root)."""
    missing = [parent for parent in path.parents if not parent.exists()]
    for folder in reversed(missing):
        folder.mkdir()
        os.chown(folder, owner.uid, owner.uid)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    os.chown(path, owner.uid, owner.uid)


def snapshot(directory) -> dict:
    """Every path beneath ``directory`` with its size: to prove nothing changed."""
    return {
        str(path.relative_to(directory)): path.lstat().st_size
        for path in sorted(directory.rglob("*"))
    }


# --- two file servers (tests of moves and home mounts) -------------------------------------


@pytest.fixture
def two(tmp_path):
    servers = TwoFileServers(tmp_path)
    yield servers
    servers.stop()


@pytest.fixture
def mounted(exec_agent, local_servers, tmp_path, settings):
    """Two file servers whose homes the execution agent mounts at fs-1 and fs-2
    (WARREN_FILESERVER_MOUNTS): each home there is a bind of its server's copy. Their web
    directories are not switched (WARREN_FILESERVER_WWW_MOUNTS unset)."""
    yield from two_mounted(exec_agent, tmp_path, settings, www=False)


@pytest.fixture
def mounted_www(exec_agent, local_servers, tmp_path, settings):
    """The same, with each file server's web directories mounted too (at the agent's
    WARREN_FILESERVER_WWW_MOUNTS): each web directory there is a bind of its server's copy."""
    yield from two_mounted(exec_agent, tmp_path, settings, www=True)
