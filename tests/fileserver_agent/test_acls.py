"""PUT/DELETE /v1/homes/<username>/acl/<uid>: a teacher's uid let into a student's home with
real POSIX ACLs (setfacl/getfacl on the test filesystem), and taken out again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fileserver_agent.client import FileserverClient
from tests.fileserver_agent.conftest import SECRET, new_uid, new_username

pytestmark = pytest.mark.root


def getfacl(path: Path) -> str:
    return subprocess.run(
        ["getfacl", "-n", "-p", str(path)], capture_output=True, text=True, check=True
    ).stdout


def as_uid(uid: int, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run argv as uid (with no groups) from ``cwd``, the way the teacher's sandbox would.

    The chdir happens as root: pytest's tmp_path lies under a root-only folder, which a
    sandbox's bind of the home skips too."""
    return subprocess.run(
        list(argv), user=uid, group=uid, extra_groups=[], capture_output=True, text=True, cwd=cwd
    )


def own(path: Path, uid: int) -> None:
    os.chown(path, uid, uid, follow_symlinks=False)


@pytest.fixture
def student_home(signed, agent_env):
    """A student's home made by the agent, holding a file and a folder with a file in it."""
    username, uid = new_username("student"), new_uid()
    assert signed.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid}).status_code == 201
    home = Path(agent_env["WARREN_HOMES_ROOT"]) / username
    (home / "project").mkdir()
    (home / "project" / "main.py").write_text("print('hi')\n")
    for path in (home / "project", home / "project" / "main.py"):
        own(path, uid)
    return username, uid, home


def test_granting_lets_the_teacher_read_and_write_everything_and_what_comes_later(
    signed, student_home
):
    username, uid, home = student_home
    teacher = new_uid()
    assert as_uid(teacher, "ls", ".", cwd=home).returncode != 0
    response = signed.put(f"/v1/homes/{username}/acl/{teacher}", {"uid": uid})
    assert response.status_code == 200, response.json
    assert response.json == {"username": username, "uid": teacher, "granted": True, "skipped": 0}
    assert f"user:{teacher}:rwx" in getfacl(home)
    assert f"default:user:{teacher}:rwx" in getfacl(home / "project")
    assert f"user:{teacher}:rw-" in getfacl(home / "project" / "main.py")
    assert "main.py" in as_uid(teacher, "ls", "project", cwd=home).stdout
    wrote = as_uid(teacher, "sh", "-c", "echo fixed >> project/main.py", cwd=home)
    assert wrote.returncode == 0, wrote.stderr
    # What the student makes afterwards inherits the grant (default ACLs).
    later = as_uid(uid, "sh", "-c", "mkdir later && echo x > later/new.txt", cwd=home)
    assert later.returncode == 0, later.stderr
    assert f"user:{teacher}:rw" in getfacl(home / "later" / "new.txt")
    assert as_uid(teacher, "cat", "later/new.txt", cwd=home).stdout == "x\n"


def test_revoking_takes_every_entry_away(signed, student_home):
    username, uid, home = student_home
    teacher = new_uid()
    signed.put(f"/v1/homes/{username}/acl/{teacher}", {"uid": uid})
    response = signed.request("DELETE", f"/v1/homes/{username}/acl/{teacher}", {"uid": uid})
    assert response.status_code == 200 and response.json["granted"] is False
    for path in (home, home / "project", home / "project" / "main.py"):
        assert f":{teacher}:" not in getfacl(path)
    assert as_uid(teacher, "ls", ".", cwd=home).returncode != 0
    assert as_uid(teacher, "cat", "project/main.py", cwd=home).returncode != 0
    # Revoking what was never granted is fine (either side may end a link twice).
    again = signed.request("DELETE", f"/v1/homes/{username}/acl/{teacher}", {"uid": uid})
    assert again.status_code == 200


def test_a_planted_symlink_does_not_carry_the_grant_outside_the_home(
    signed, student_home, tmp_path
):
    username, uid, home = student_home
    secret = tmp_path / "root-only"
    secret.write_text("root's")
    os.chmod(secret, 0o600)
    (home / "link").symlink_to(secret)
    own(home / "link", uid)
    (home / "dirlink").symlink_to(tmp_path)
    own(home / "dirlink", uid)
    teacher = new_uid()
    assert signed.put(f"/v1/homes/{username}/acl/{teacher}", {"uid": uid}).status_code == 200
    assert f":{teacher}:" not in getfacl(secret)
    assert f":{teacher}:" not in getfacl(tmp_path)
    assert as_uid(teacher, "cat", "root-only", cwd=tmp_path).returncode != 0


def test_files_someone_else_owns_in_the_home_are_skipped_not_seized(signed, student_home):
    username, uid, home = student_home
    (home / "roots.txt").write_text("root's")  # owned by root: the owner cannot change it
    teacher = new_uid()
    response = signed.put(f"/v1/homes/{username}/acl/{teacher}", {"uid": uid})
    assert response.status_code == 200 and response.json["skipped"] == 1
    assert f":{teacher}:" not in getfacl(home / "roots.txt")


@pytest.mark.parametrize(
    ("case", "status"),
    [("wrong owner", 409), ("no home", 404), ("owner itself", 400), ("bad uid", 400)],
)
def test_bad_requests_change_nothing(signed, student_home, case, status):
    username, uid, home = student_home
    teacher = new_uid()
    path, body = f"/v1/homes/{username}/acl/{teacher}", {"uid": uid}
    if case == "wrong owner":
        body = {"uid": new_uid()}
    elif case == "no home":
        path = f"/v1/homes/{new_username('ghost')}/acl/{teacher}"
    elif case == "owner itself":
        path = f"/v1/homes/{username}/acl/{uid}"
    elif case == "bad uid":
        path = f"/v1/homes/{username}/acl/0"
    response = signed.put(path, body)
    assert response.status_code == status, response.json
    assert "error" in response.json
    assert f":{teacher}:" not in getfacl(home)


def test_unsigned_requests_are_refused(client, student_home):
    username, uid, home = student_home
    response = client.put(f"/v1/homes/{username}/acl/{new_uid()}", json={"uid": uid})
    assert response.status_code == 401
    assert "user:" not in getfacl(home).replace("user::", "")


def test_the_client_grants_and_revokes_through_a_running_agent(running_agent, tmp_path):
    client = FileserverClient(running_agent.url, SECRET)
    username, uid = new_username("student"), new_uid()
    home = Path(client.create_home(username, uid=uid, gid=uid).path)
    teacher = new_uid()
    client.home_acl(username, owner_uid=uid, grantee_uid=teacher, grant=True)
    assert f"user:{teacher}:rwx" in getfacl(home)
    client.home_acl(username, owner_uid=uid, grantee_uid=teacher, grant=False)
    assert f":{teacher}:" not in getfacl(home)
