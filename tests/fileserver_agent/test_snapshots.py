"""Last night's copy of a home, through the agent: listing it, restoring from it as the owner,
and everything that must be refused (traversal, links out, existing names, someone else's)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.deploy.conftest import ETERNAL_RSYNC
from tests.fileserver_agent.conftest import new_uid, new_username

pytestmark = pytest.mark.root


@pytest.fixture
def agent_env(tmp_path):
    from tests.fileserver_agent.conftest import agent_environment

    (tmp_path / "snapshot").mkdir()
    return agent_environment(tmp_path, WARREN_SNAPSHOT_ROOT=str(tmp_path / "snapshot"))


def owned(path, uid, data: bytes | None = None, *, folder=False):
    if folder:
        path.mkdir()
    else:
        path.write_bytes(data or b"")
    os.chown(path, uid, uid, follow_symlinks=False)
    return path


@pytest.fixture
def alice(signed, tmp_path):
    """A home with files, backed up by eternal-rsync into the snapshot, then changed."""
    uid, name = new_uid(), new_username("alice")
    assert signed.post(f"/v1/homes/{name}", {"uid": uid, "gid": uid}).status_code == 201
    home = tmp_path / "homes" / name
    owned(home / "notes.txt", uid, b"precious\n")
    owned(home / "site", uid, folder=True)
    owned(home / "site" / "app.py", uid, b"print('v1')\n")
    os.symlink("/etc", home / "etc-link")
    os.lchown(home / "etc-link", uid, uid)
    os.symlink("notes.txt", home / "inner-link")
    os.lchown(home / "inner-link", uid, uid)
    subprocess.run(
        [
            str(ETERNAL_RSYNC),
            "--control-dir",
            str(tmp_path / "ctl"),
            "run",
            str(home),
            str(tmp_path / "snapshot" / name),
            "--passes",
            "1",
            "--no-idle",
        ],
        check=True,
        capture_output=True,
    )
    (home / "notes.txt").unlink()
    (home / "site" / "app.py").write_text("broken\n")
    return {"uid": uid, "name": name, "home": home}


def listing(signed, alice, path=""):
    return signed.post(
        f"/v1/homes/{alice['name']}/snapshot/list", {"uid": alice["uid"], "path": path}
    )


def restore(signed, alice, path, target, uid=None):
    body = {"uid": uid or alice["uid"], "path": path, "target": target}
    return signed.post(f"/v1/homes/{alice['name']}/snapshot/restore", body)


def test_the_copy_is_listed_as_it_was(signed, alice):
    response = listing(signed, alice)
    assert response.status_code == 200
    entries = {entry["name"]: entry for entry in response.get_json()["entries"]}
    assert entries["notes.txt"]["type"] == "file" and entries["notes.txt"]["size"] == 9
    assert entries["site"]["type"] == "dir"
    assert entries["etc-link"]["type"] == "symlink"
    inner = listing(signed, alice, "site").get_json()["entries"]
    assert [entry["name"] for entry in inner] == ["app.py"]


def test_a_file_is_restored_under_a_new_name_owned_by_its_owner(signed, alice):
    response = restore(signed, alice, "notes.txt", "notes (restored).txt")
    assert response.status_code == 201, response.get_json()
    restored = alice["home"] / "notes (restored).txt"
    assert restored.read_bytes() == b"precious\n"
    assert restored.stat().st_uid == alice["uid"]
    assert not [p for p in alice["home"].iterdir() if p.name.startswith(".warren-restore")]


def test_a_folder_is_restored_whole_into_a_subfolder(signed, alice):
    response = restore(signed, alice, "site", "site/yesterday")
    assert response.status_code == 201
    assert response.get_json() == {"path": "site/yesterday", "type": "dir"}
    assert (alice["home"] / "site" / "yesterday" / "app.py").read_text() == "print('v1')\n"
    assert (alice["home"] / "site" / "app.py").read_text() == "broken\n"
    for path in (alice["home"] / "site" / "yesterday").rglob("*"):
        assert path.lstat().st_uid == alice["uid"]


def test_an_existing_name_is_never_overwritten(signed, alice):
    response = restore(signed, alice, "site/app.py", "site/app.py")
    assert response.status_code == 409
    assert "already exists" in response.get_json()["detail"]
    assert (alice["home"] / "site" / "app.py").read_text() == "broken\n"


@pytest.mark.parametrize(
    ("path", "target", "status"),
    [
        ("../other/secret", "x", 400),
        ("notes.txt", "../escaped.txt", 400),
        ("notes.txt", "", 400),
        ("etc-link/passwd", "passwd", 403),  # a link out of the copy is not followed
        ("etc-link", "etc", 400),  # a link is not a file or folder
        ("inner-link", "inner", 400),
        ("nothing-here.txt", "x", 404),
        ("notes.txt", "no/such/folder/notes.txt", 404),
        ("notes.txt", "etc-link/notes.txt", 403),  # nor a link out of the home
    ],
)
def test_bad_paths_are_refused_and_leave_nothing(signed, alice, path, target, status):
    before = sorted(p.name for p in alice["home"].rglob("*"))
    response = restore(signed, alice, path, target)
    assert response.status_code == status, response.get_json()
    assert sorted(p.name for p in alice["home"].rglob("*")) == before
    assert not os.path.exists("/etc/notes.txt") and not os.path.exists("/etc/etc")


def test_listing_through_a_link_out_is_refused(signed, alice):
    assert listing(signed, alice, "etc-link").status_code == 403
    assert listing(signed, alice, "../").status_code == 400


def test_someone_elses_uid_gets_nothing(signed, alice):
    assert listing(signed, alice | {"uid": new_uid()}).status_code == 409
    response = restore(signed, alice, "notes.txt", "stolen.txt", uid=new_uid())
    assert response.status_code == 409
    assert not (alice["home"] / "stolen.txt").exists()


def test_a_home_without_a_copy_is_a_404(signed):
    uid, name = new_uid(), new_username("newcomer")
    signed.post(f"/v1/homes/{name}", {"uid": uid, "gid": uid})
    response = signed.post(f"/v1/homes/{name}/snapshot/list", {"uid": uid, "path": ""})
    assert response.status_code == 404


def test_what_the_owner_cannot_read_is_not_restored(signed, alice, tmp_path):
    # A file of someone else's in the copy (a teacher's, say), unreadable to alice.
    secret = tmp_path / "snapshot" / alice["name"] / "site" / "teachers.txt"
    secret.write_text("not for alice\n")
    os.chown(secret, new_uid(), new_uid())
    secret.chmod(0o600)
    response = restore(signed, alice, "site/teachers.txt", "copy.txt")
    assert response.status_code == 422
    assert not (alice["home"] / "copy.txt").exists()
    assert not [p for p in alice["home"].iterdir() if p.name.startswith(".warren-restore")]


def test_without_a_snapshot_root_there_is_nothing_to_restore(tmp_path):
    from fileserver_agent import create_app
    from tests.fileserver_agent.conftest import SignedClient, agent_environment

    (tmp_path / "plain").mkdir()
    signed = SignedClient(create_app(agent_environment(tmp_path / "plain")).test_client())
    response = signed.post("/v1/homes/alice/snapshot/list", {"uid": 5000, "path": ""})
    assert response.status_code == 404
    assert response.get_json()["error"] == "no_snapshot"


def test_the_listing_says_when_the_copy_was_taken(signed, alice, tmp_path):
    assert listing(signed, alice).get_json()["copy"] is None, "a copy without a stamp"
    stamp = tmp_path / "snapshot" / ".warren-copy.json"
    stamp.write_text(json.dumps({"taken": 1764900000.5, "since": 1764896400.25}))
    assert listing(signed, alice, "site").get_json()["copy"] == {
        "taken": 1764900000.5,
        "since": 1764896400.25,
    }
    stamp.write_text(json.dumps({"taken": 1764900000, "since": None}))
    assert listing(signed, alice).get_json()["copy"] == {"taken": 1764900000.0, "since": None}


@pytest.mark.parametrize(
    "text",
    ["not json", "[1, 2]", '{"taken": "yesterday"}', '{"taken": true}', '{"since": 5}', "{}"],
)
def test_a_stamp_that_makes_no_sense_is_ignored(signed, alice, tmp_path, text):
    (tmp_path / "snapshot" / ".warren-copy.json").write_text(text)
    response = listing(signed, alice)
    assert response.status_code == 200
    assert response.get_json()["copy"] is None


def test_a_stamp_that_is_a_link_is_not_followed(signed, alice, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"taken": 1764900000}))
    os.symlink(elsewhere, tmp_path / "snapshot" / ".warren-copy.json")
    assert listing(signed, alice).get_json()["copy"] is None
