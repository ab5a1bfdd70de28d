"""Fixtures for the Files tab: alice and mallory provisioned for real (homes made by the
fileserver agent, files reached through the execution agent), and URL helpers."""

import os

import pytest
from django.urls import reverse


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
