"""Restoring from last night's copy: a user's links in their own backup must not reach anyone
else's files, and the copy must never land outside their home."""

import os

import pytest
from django.test import Client

from files.fileserver import client_for_user
from fileserver_agent.client import FileserverRequestError
from tests.files.conftest import put, url
from tests.files.fileservers import backed_up_fileserver

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def backed_up(exec_agent, tmp_path):
    with backed_up_fileserver(exec_agent, tmp_path) as agent:
        yield agent


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_link_to_another_users_home_in_the_backup_reads_nothing_of_theirs(backed_up, exec_agent):
    """Would give mallory alice's files: the agent reads the copy as root, and restores it."""
    alice, mallory = backed_up.user("alice"), backed_up.user("mallory")
    put(exec_agent.homes / "alice" / "diary.txt", "alice's secrets\n", alice)
    home = exec_agent.homes / "mallory"
    for name, target in [("abs", "/home/alice"), ("rel", "../alice"), ("snap", "../../snapshot")]:
        os.symlink(target, home / name)
        os.lchown(home / name, mallory.uid, mallory.uid)
    backed_up.back_up(alice)
    backed_up.back_up(mallory)
    client = logged_in(mallory)
    for name in ("abs", "rel", "snap"):
        page = client.get(url("snapshot", f"home/mallory/{name}/"))
        assert page.status_code in (403, 404)
        assert 'class="name">diary.txt' not in page.content.decode()  # not listed
        response = client.post(
            url("snapshot_restore", f"home/mallory/{name}/diary.txt"), {"name": f"{name}.txt"}
        )
        assert response.status_code == 302
        assert not (home / f"{name}.txt").exists()
    names = [name for _, _, files in os.walk(home) for name in files]  # links not followed
    assert "diary.txt" not in names


def test_a_link_in_the_live_home_does_not_carry_a_restore_out(backed_up, exec_agent, tmp_path):
    """Would let mallory write into alice's home (or anywhere) as root."""
    alice, mallory = backed_up.user("alice"), backed_up.user("mallory")
    home = exec_agent.homes / "mallory"
    put(home / "notes.txt", "mine\n", mallory)
    backed_up.back_up(mallory)
    os.symlink("/home/alice", home / "into-alice")
    os.symlink("../alice", home / "next-door")
    for link in ("into-alice", "next-door"):
        os.lchown(home / link, mallory.uid, mallory.uid)
    client = logged_in(mallory)
    # The form names a new name in the folder; a path with a slash is refused outright, and
    # the agent resolves the folder beneath the home whatever it is given.
    for name in ("into-alice/planted.txt", "next-door/planted.txt"):
        client.post(url("snapshot_restore", "home/mallory/notes.txt"), {"name": name})
    for target in ("into-alice/planted.txt", "next-door/planted.txt"):
        with pytest.raises(FileserverRequestError) as refused:
            client_for_user(mallory).snapshot_restore(
                "mallory", uid=mallory.uid, path="notes.txt", target=target
            )
        assert refused.value.status == 403
    assert not (exec_agent.homes / "alice" / "planted.txt").exists()
    assert (exec_agent.homes / "alice").stat().st_uid == alice.uid
