"""Op home_mount_set: a user's home here is a bind of <a file server's mount>/<username>, switched
when they move; bad sources are refused with nothing changed. Op web_stop. The restart race."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from execution_agent.client import AgentError
from execution_agent.home_mounts import MountsError, mounts_at, parse_fileserver_mounts

pytestmark = pytest.mark.root


def copy_on(harness, server: str, user, text: str):
    """The user's home on file server ``server`` (as mounted here), holding where.txt."""
    home = harness.fileserver_mounts[server] / user["username"]
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, user["uid"], user["uid"])
    (home / "where.txt").write_text(text)
    os.chown(home / "where.txt", user["uid"], user["uid"])
    return home


def seen_in_sandbox(client, user) -> str:
    result = client.run(user=user, argv=["cat", f"/home/{user['username']}/where.txt"])
    return result["stdout"] or result["stderr"]


@pytest.fixture
def mover(harness, make_user):
    user = make_user("mover")
    target = harness.homes / user["username"]
    yield user
    while mounts_at(str(target)):
        subprocess.run(["umount", "-l", str(target)], check=True)


def test_a_home_is_switched_from_one_file_server_to_the_other(harness, client, mover):
    target = str(harness.homes / mover["username"])
    one = copy_on(harness, "fs-1", mover, "on fs-1\n")
    two = copy_on(harness, "fs-2", mover, "on fs-2\n")

    assert client.home_mount_set(user=mover, source=str(one)) == {
        "changed": True,
        "target": target,
    }
    assert seen_in_sandbox(client, mover) == "on fs-1\n"
    assert client.home_mount_set(user=mover, source=str(one))["changed"] is False

    assert client.home_mount_set(user=mover, source=str(two))["changed"] is True
    assert seen_in_sandbox(client, mover) == "on fs-2\n"
    # Switched, not stacked: one mount there, and writes land on the new server's copy.
    assert mounts_at(target) == 1
    client.run(user=mover, argv=["sh", "-c", f"echo new > /home/{mover['username']}/new.txt"])
    assert (two / "new.txt").read_text() == "new\n"
    assert not (one / "new.txt").exists()


@pytest.mark.parametrize("case", ["other uid", "symlink", "outside", "other user", "dotdot"])
def test_a_bad_source_is_refused_and_the_home_stays(harness, client, mover, make_user, case):
    target = harness.homes / mover["username"]
    good = copy_on(harness, "fs-1", mover, "on fs-1\n")
    client.home_mount_set(user=mover, source=str(good))
    mallory = make_user("mallory")
    bad = harness.fileserver_mounts["fs-2"] / mover["username"]
    if case == "other uid":
        copy_on(harness, "fs-2", mallory, "mallory's\n").rename(bad)
        source, code = str(bad), "forbidden"
    elif case == "symlink":
        elsewhere = copy_on(harness, "fs-2", mallory, "mallory's\n")
        bad.symlink_to(elsewhere)
        source, code = str(bad), "forbidden"
    elif case == "outside":
        outside = harness.base / "elsewhere" / mover["username"]
        outside.mkdir(parents=True)
        os.chown(outside, mover["uid"], mover["uid"])
        source, code = str(outside), "forbidden"
    elif case == "other user":
        source, code = str(copy_on(harness, "fs-2", mallory, "m\n")), "forbidden"
    else:
        source = f"{harness.fileserver_mounts['fs-2']}/../fs-1/{mover['username']}"
        code = "bad_request"
    with pytest.raises(AgentError) as refused:
        client.home_mount_set(user=mover, source=source)
    assert refused.value.code == code, refused.value.message
    assert refused.value.message.startswith("args.source")
    assert mounts_at(str(target)) == 1
    assert seen_in_sandbox(client, mover) == "on fs-1\n"


def test_a_missing_source_is_not_found(harness, client, mover):
    with pytest.raises(AgentError) as refused:
        client.home_mount_set(
            user=mover, source=f"{harness.fileserver_mounts['fs-2']}/{mover['username']}"
        )
    assert refused.value.code == "not_found"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("fs-1", "expected FILE_SERVER_HOSTNAME=/absolute/path"),
        ("fs-1=relative/path", "absolute path"),
        ("fs-1=/srv/a,fs-1=/srv/b", "named twice"),
        ("fs-1=/srv/a,fs-2=/srv/a/b", "overlaps"),
        ("fs-1=/srv/../etc", "without . or .."),
        ("bad name=/srv/a", "hostname"),
        ("fs-1=/srv/a,,fs-2=/srv/b", "item 2"),
    ],
)
def test_the_setting_is_parsed_strictly(text, complaint):
    with pytest.raises(MountsError, match="WARREN_FILESERVER_MOUNTS") as error:
        parse_fileserver_mounts(text)
    assert complaint in str(error.value)


def test_the_setting_unset_means_one_file_server():
    assert parse_fileserver_mounts("") == {} and parse_fileserver_mounts(None) == {}
    assert parse_fileserver_mounts(" fs-1=/srv/homes/fs-1/ , fs-2=/srv/homes/fs-2") == {
        "fs-1": "/srv/homes/fs-1",
        "fs-2": "/srv/homes/fs-2",
    }


def test_a_console_started_again_at_once_survives_the_old_sessions_kill(client, alice):
    """console_kill's KILL sweep 2 s later must not reach a console started again under the
    same id meanwhile (a restart, a home move's final pass)."""
    console_id = f"c{os.urandom(6).hex()}"
    client.console_start(user=alice, console_id=console_id, argv=["bash"], rows=24, cols=80)
    client.console_kill(user=alice, console_id=console_id)
    client.console_start(user=alice, console_id=console_id, argv=["bash"], rows=24, cols=80)
    time.sleep(3)
    listed = {c["console_id"]: c for c in client.console_list(user=alice)}
    assert listed[console_id]["alive"] is True
    client.console_kill(user=alice, console_id=console_id)
