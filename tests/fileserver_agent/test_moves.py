"""POST /v1/homes/<username>/sync: a pass of a move, from one agent's roots to another's."""

from __future__ import annotations

import os

import pytest

from tests.deploy.backup_trees import differences, make_rich_home, manifest
from tests.fileserver_agent.conftest import new_uid, new_username

pytestmark = pytest.mark.root


@pytest.fixture
def other_server(tmp_path):
    """The destination's roots, reached by path (a second agent on this machine)."""
    homes, www = tmp_path / "other-homes", tmp_path / "other-www"
    homes.mkdir()
    www.mkdir()
    return {"homes": str(homes), "www": str(www)}


def test_passes_copy_the_home_and_web_directory_whole(signed, tmp_path, other_server):
    uid, name = new_uid(), new_username("mover")
    signed.post(f"/v1/homes/{name}", {"uid": uid, "gid": uid})
    home = tmp_path / "homes" / name
    # Everything a copy can lose, moved into the agent-made home.
    make_rich_home(tmp_path / "rich", name, uid, other_uid=new_uid())
    for entry in (tmp_path / "rich" / name).iterdir():
        os.rename(entry, home / entry.name)
    (tmp_path / "www" / name / "wsgi.py").write_text("application = None\n")
    response = signed.post(f"/v1/homes/{name}/sync", {"uid": uid, **other_server})
    assert response.status_code == 200, response.get_json()
    copied = tmp_path / "other-homes" / name
    assert differences(manifest(home), manifest(copied)) == []
    assert (tmp_path / "other-www" / name / "wsgi.py").exists()
    # The user kept working: the next pass carries the change and the deletion.
    (home / "README.txt").unlink()
    (home / "new.txt").write_text("written during the move\n")
    assert signed.post(f"/v1/homes/{name}/sync", {"uid": uid, **other_server}).status_code == 200
    assert differences(manifest(home), manifest(copied)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"homes": "relative/path"},
        {"homes": "/tmp/../etc"},
        {"www": "ssh://elsewhere/x"},
        {"homes": "rsync://host/module;rm -rf /"},
        {"uid": 5},
    ],
)
def test_bad_destinations_are_refused(signed, other_server, change):
    uid, name = new_uid(), new_username("mover")
    signed.post(f"/v1/homes/{name}", {"uid": uid, "gid": uid})
    response = signed.post(f"/v1/homes/{name}/sync", {"uid": uid, **other_server, **change})
    assert response.status_code == 400


def test_someone_elses_uid_or_no_home_is_refused(signed, tmp_path, other_server):
    uid, name = new_uid(), new_username("mover")
    signed.post(f"/v1/homes/{name}", {"uid": uid, "gid": uid})
    wrong = signed.post(f"/v1/homes/{name}/sync", {"uid": new_uid(), **other_server})
    assert wrong.status_code == 409
    missing = signed.post("/v1/homes/nobody-here/sync", {"uid": uid, **other_server})
    assert missing.status_code == 404
    assert not (tmp_path / "other-homes" / name).exists()


def test_syncing_onto_its_own_roots_is_refused(signed, tmp_path):
    uid, name = new_uid(), new_username("mover")
    signed.post(f"/v1/homes/{name}", {"uid": uid, "gid": uid})
    own = {"homes": str(tmp_path / "homes"), "www": str(tmp_path / "www")}
    assert signed.post(f"/v1/homes/{name}/sync", {"uid": uid, **own}).status_code == 400
