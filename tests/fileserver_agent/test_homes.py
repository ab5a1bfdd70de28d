"""POST /v1/homes/<username>: a home with a skeleton, owned by the user, created once."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from tests.fileserver_agent.conftest import SignedClient, new_uid, new_username

pytestmark = pytest.mark.root


def create(signed, username, uid, gid=None):
    return signed.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid if gid is None else gid})


def owner_and_mode(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def test_a_new_home_is_owned_by_the_user_with_mode_0700(signed, agent_env):
    username, uid = new_username(), new_uid()
    response = create(signed, username, uid)
    assert response.status_code == 201
    home = Path(agent_env["WARREN_HOMES_ROOT"]) / username
    assert response.json == {
        "username": username,
        "uid": uid,
        "gid": uid,
        "path": str(home),
        "www_path": str(Path(agent_env["WARREN_WWW_ROOT"]) / username),
        "created": True,
    }
    assert owner_and_mode(home) == (uid, uid, 0o700)


def test_the_skeleton_has_a_friendly_readme_owned_by_the_user(signed, agent_env):
    username, uid = new_username(), new_uid()
    create(signed, username, uid)
    home = Path(agent_env["WARREN_HOMES_ROOT"]) / username
    readme = home / "README.txt"
    assert f"Welcome to Warren, {username}!" in readme.read_text()
    assert f"/home/{username}" in readme.read_text()
    assert owner_and_mode(readme) == (uid, uid, 0o644)
    assert owner_and_mode(home / ".bashrc") == (uid, uid, 0o644)
    assert sorted(os.listdir(home)) == [".bashrc", "README.txt"]


def test_the_web_directory_is_made_beside_the_home(signed, agent_env):
    username, uid = new_username(), new_uid()
    create(signed, username, uid)
    www = Path(agent_env["WARREN_WWW_ROOT"]) / username
    assert owner_and_mode(www) == (uid, uid, 0o700)
    assert os.listdir(www) == []


def test_creating_the_same_home_again_changes_nothing(signed, agent_env):
    username, uid = new_username(), new_uid()
    create(signed, username, uid)
    home = Path(agent_env["WARREN_HOMES_ROOT"]) / username
    (home / "README.txt").unlink()
    (home / "project.py").write_text("print('mine')\n")
    response = create(signed, username, uid)
    assert response.status_code == 200
    assert response.json["created"] is False
    assert sorted(os.listdir(home)) == [".bashrc", "project.py"]
    assert owner_and_mode(home) == (uid, uid, 0o700)


def test_a_missing_web_directory_is_added_to_an_existing_home(signed, agent_env):
    username, uid = new_username(), new_uid()
    create(signed, username, uid)
    (Path(agent_env["WARREN_WWW_ROOT"]) / username).rmdir()
    response = create(signed, username, uid)
    assert response.status_code == 200  # the home was already there
    assert owner_and_mode(Path(agent_env["WARREN_WWW_ROOT"]) / username) == (uid, uid, 0o700)


def test_a_home_belonging_to_another_uid_is_not_handed_over(signed, agent_env):
    username, owner, intruder = new_username(), new_uid(), new_uid()
    create(signed, username, owner)
    response = create(signed, username, intruder)
    assert response.status_code == 409
    assert f"belongs to uid {owner}" in response.json["detail"]
    assert owner_and_mode(Path(agent_env["WARREN_HOMES_ROOT"]) / username)[0] == owner


def test_a_file_where_the_home_should_be_is_a_conflict(signed, agent_env):
    username = new_username()
    (Path(agent_env["WARREN_HOMES_ROOT"]) / username).write_text("not a home")
    response = create(signed, username, new_uid())
    assert response.status_code == 409
    assert "is not a directory" in response.json["detail"]


def test_a_symlink_where_the_home_should_be_is_not_followed(signed, agent_env, tmp_path):
    username, uid = new_username(), new_uid()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (Path(agent_env["WARREN_HOMES_ROOT"]) / username).symlink_to(elsewhere)
    response = create(signed, username, uid)
    assert response.status_code == 409
    assert owner_and_mode(elsewhere)[0] == 0


def test_concurrent_creations_make_one_home(app, agent_env):
    username, uid = new_username(), new_uid()
    statuses = []
    signed = SignedClient(app.test_client())

    def worker():
        statuses.append(create(signed, username, uid).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [201]
    for root in ("WARREN_HOMES_ROOT", "WARREN_WWW_ROOT"):
        assert os.listdir(agent_env[root]) == [username], "no staging directory is left behind"


@pytest.mark.parametrize(
    "username",
    ["Alice", "al", "1alice", "-alice", "alice_smith", "a" * 31, "alice.smith", "%2e%2e"],
)
def test_a_username_that_is_not_a_valid_unix_name_is_refused(signed, username, agent_env):
    response = create(signed, username, new_uid())
    assert response.status_code == 400
    assert "username must be 3-30 characters" in response.json["detail"]
    assert os.listdir(agent_env["WARREN_HOMES_ROOT"]) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"uid": "3000001", "gid": 3000001}, "uid must be a whole number"),
        ({"uid": 3000001.0, "gid": 3000001}, "uid must be a whole number"),
        ({"uid": True, "gid": 3000001}, "uid must be a whole number"),
        ({"uid": -1, "gid": 3000001}, "below the agent's minimum"),
        ({"uid": 0, "gid": 0}, "below the agent's minimum"),
        ({"uid": 2**32 - 1, "gid": 3000001}, "above the largest valid id"),
        ({"uid": 3000001}, "missing gid"),
        ({"uid": 3000001, "gid": 3000001, "shell": "/bin/sh"}, "unknown fields: shell"),
        ([3000001, 3000001], "must be a JSON object"),
    ],
)
def test_bad_ids_are_refused_with_the_reason(signed, body, reason, agent_env):
    response = signed.post(f"/v1/homes/{new_username()}", body)
    assert response.status_code == 400
    assert reason in response.json["detail"]
    assert os.listdir(agent_env["WARREN_HOMES_ROOT"]) == []


def test_a_body_that_is_not_json_is_refused(signed):
    response = signed.post(f"/v1/homes/{new_username()}", raw=b"uid=3000001")
    assert response.status_code == 400
    assert "not valid JSON" in response.json["detail"]


def test_an_empty_body_is_refused(signed):
    response = signed.post(f"/v1/homes/{new_username()}", raw=b"")
    assert response.status_code == 400
    assert response.json["detail"] == "the request body must be JSON"


def test_an_encoded_slash_cannot_reach_outside_the_homes_root(signed, agent_env):
    response = create(signed, "root%2Fetc", new_uid())
    assert response.status_code == 404
    assert os.listdir(agent_env["WARREN_HOMES_ROOT"]) == []
