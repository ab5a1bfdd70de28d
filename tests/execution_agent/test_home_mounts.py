"""Op home_mount_set: a user's home here is a bind of <a file server's mount>/<username>, switched
when they move, and so is their web directory (www_source), both or neither; bad sources are
refused with nothing changed. Op web_stop. The restart race."""

from __future__ import annotations

import os
import time

import pytest

from execution_agent import home_mounts
from execution_agent.client import AgentError
from execution_agent.config import ConfigError, load_config
from execution_agent.home_mounts import (
    MountsError,
    mounts_at,
    parse_fileserver_mounts,
    parse_fileserver_www_mounts,
)
from execution_agent.teardown import unmount_beneath

pytestmark = pytest.mark.root


def copy_on(harness, server: str, user, text: str, *, www: bool = False):
    """The user's home (or web directory) on file server ``server`` (as mounted here), holding
    where.txt."""
    mounts = harness.fileserver_www_mounts if www else harness.fileserver_mounts
    home = mounts[server] / user["username"]
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, user["uid"], user["uid"])
    (home / "where.txt").write_text(text)
    os.chown(home / "where.txt", user["uid"], user["uid"])
    return home


def seen_in_sandbox(client, user, *, www: bool = False) -> str:
    where = "/var/www" if www else f"/home/{user['username']}"
    result = client.run(user=user, argv=["cat", f"{where}/where.txt"])
    return result["stdout"] or result["stderr"]


def unmount_all(*targets) -> None:
    for target in targets:
        unmount_beneath(target)


@pytest.fixture
def mover(harness, make_user):
    user = make_user("mover")
    yield user
    unmount_all(harness.homes / user["username"], harness.www / user["username"])


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


def test_the_web_directory_is_switched_with_the_home(harness, client, mover):
    name = mover["username"]
    home_one, www_one = (copy_on(harness, "fs-1", mover, "fs-1\n", www=w) for w in (False, True))
    home_two = copy_on(harness, "fs-2", mover, "home on fs-2\n")
    www_two = copy_on(harness, "fs-2", mover, "www on fs-2\n", www=True)
    client.home_mount_set(user=mover, source=str(home_one), www_source=str(www_one))
    assert seen_in_sandbox(client, mover, www=True) == "fs-1\n"

    assert client.home_mount_set(user=mover, source=str(home_two), www_source=str(www_two)) == {
        "changed": True,
        "target": str(harness.homes / name),
        "home_changed": True,
        "www_changed": True,
        "www_target": str(harness.www / name),
    }
    assert seen_in_sandbox(client, mover) == "home on fs-2\n"
    assert seen_in_sandbox(client, mover, www=True) == "www on fs-2\n"
    assert mounts_at(str(harness.www / name)) == 1
    client.run(user=mover, argv=["sh", "-c", "echo app > /var/www/wsgi.py"])
    assert (www_two / "wsgi.py").read_text() == "app\n"
    assert not (www_one / "wsgi.py").exists()
    # Asked again: nothing to do; the home alone may still be set without www_source.
    again = client.home_mount_set(user=mover, source=str(home_two), www_source=str(www_two))
    assert again["changed"] is again["home_changed"] is again["www_changed"] is False
    assert client.home_mount_set(user=mover, source=str(home_two)) == {
        "changed": False,
        "target": str(harness.homes / name),
    }


@pytest.mark.parametrize(
    "case", ["other uid", "symlink", "outside", "home mount", "other user", "dotdot"]
)
def test_a_bad_www_source_is_refused_and_neither_is_switched(
    harness, client, mover, make_user, case
):
    name = mover["username"]
    home_one = copy_on(harness, "fs-1", mover, "home on fs-1\n")
    www_one = copy_on(harness, "fs-1", mover, "www on fs-1\n", www=True)
    client.home_mount_set(user=mover, source=str(home_one), www_source=str(www_one))
    home_two = copy_on(harness, "fs-2", mover, "home on fs-2\n")
    mallory = make_user("mallory")
    bad = harness.fileserver_www_mounts["fs-2"] / name
    if case == "other uid":
        copy_on(harness, "fs-2", mallory, "mallory's\n", www=True).rename(bad)
        source, code = str(bad), "forbidden"
    elif case == "symlink":
        bad.symlink_to(copy_on(harness, "fs-2", mallory, "mallory's\n", www=True))
        source, code = str(bad), "forbidden"
    elif case == "outside":
        outside = harness.base / "elsewhere" / name
        outside.mkdir(parents=True)
        os.chown(outside, mover["uid"], mover["uid"])
        source, code = str(outside), "forbidden"
    elif case == "home mount":  # a home is not a web directory
        source, code = str(home_two), "forbidden"
    elif case == "other user":
        source = str(copy_on(harness, "fs-2", mallory, "m\n", www=True))
        code = "forbidden"
    else:
        source = f"{harness.fileserver_www_mounts['fs-2']}/../fs-1/{name}"
        code = "bad_request"
    with pytest.raises(AgentError) as refused:
        client.home_mount_set(user=mover, source=str(home_two), www_source=source)
    assert refused.value.code == code, refused.value.message
    assert refused.value.message.startswith("args.www_source")
    assert mounts_at(str(harness.homes / name)) == mounts_at(str(harness.www / name)) == 1
    assert seen_in_sandbox(client, mover) == "home on fs-1\n"
    assert seen_in_sandbox(client, mover, www=True) == "www on fs-1\n"


def test_a_www_bind_that_fails_switches_the_home_back(harness, monkeypatch):
    """Both trees are cloned first; if the web directory's cannot be attached, the home's bind
    that was switched already is switched back (in-process: the failure is injected)."""
    base = harness.base / "all-or-nothing"
    dirs = {name: base / name for name in ("home-a", "home-b", "www-a", "www-b", "home", "www")}
    for path in dirs.values():
        path.mkdir(parents=True)
    for name in ("home-a", "home-b", "www-a", "www-b"):
        (dirs[name] / "where.txt").write_text(name)

    def bind(home: str, www: str) -> list[bool]:
        fds = [os.open(dirs[name], os.O_PATH | os.O_DIRECTORY) for name in (home, www)]
        try:
            return home_mounts.bind_all([(fds[0], str(dirs["home"])), (fds[1], str(dirs["www"]))])
        finally:
            for fd in fds:
                os.close(fd)

    try:
        assert bind("home-a", "www-a") == [True, True]
        real_move_mount = home_mounts._move_mount

        def failing(tree_fd, target):
            if target == str(dirs["www"]):
                raise OSError(5, f"move_mount to {target}: injected")
            real_move_mount(tree_fd, target)

        monkeypatch.setattr(home_mounts, "_move_mount", failing)
        with pytest.raises(OSError, match="injected"):
            bind("home-b", "www-b")
        assert (dirs["home"] / "where.txt").read_text() == "home-a"
        assert mounts_at(str(dirs["home"])) == 1
        # The web directory's old bind was detached, then could not be attached again either
        # (the injected failure hits every attach there); the home is back all the same.
        monkeypatch.setattr(home_mounts, "_move_mount", real_move_mount)
        # A first bind that fails leaves no bind behind at the home.
        unmount_all(dirs["home"], dirs["www"])
        monkeypatch.setattr(home_mounts, "_move_mount", failing)
        with pytest.raises(OSError, match="injected"):
            bind("home-b", "www-b")
        assert mounts_at(str(dirs["home"])) == 0
        assert not (dirs["home"] / "where.txt").exists()
    finally:
        monkeypatch.undo()
        unmount_all(dirs["home"], dirs["www"])


def test_www_source_needs_www_mounts(harness, mover):
    """An agent without WARREN_FILESERVER_WWW_MOUNTS (today's) refuses www_source."""
    from types import SimpleNamespace

    from execution_agent.errors import OpError
    from execution_agent.ops import OPS
    from execution_agent.validation import Args

    env = {**harness.env(), "WARREN_FILESERVER_WWW_MOUNTS": ""}
    agent = SimpleNamespace(config=load_config(env), root=True)
    assert agent.config.fileserver_www_mounts == ()
    home = copy_on(harness, "fs-1", mover, "fs-1\n")
    www = harness.fileserver_www_mounts["fs-1"] / mover["username"]
    spec = OPS["home_mount_set"]
    raw = {"user": mover, "source": str(home), "www_source": str(www)}
    with pytest.raises(OpError) as refused:
        spec.handler(agent, Args(raw, spec.fields, harness.uid_base))
    assert refused.value.code == "forbidden"
    assert "WARREN_FILESERVER_WWW_MOUNTS" in refused.value.message
    assert mounts_at(str(harness.homes / mover["username"])) == 0


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("fs-1=/srv/www/fs-1", "must name the file servers of WARREN_FILESERVER_MOUNTS"),
        ("fs-1=/srv/www/1,fs-2=/srv/www/2,fs-3=/srv/www/3", "must name the file servers"),
        ("fs-1=/srv/www/fs-1,fs-2=/srv/homes/fs-2/www", "overlaps fs-2's homes mount"),
        ("fs-1=/srv/www/fs-1,fs-2=/srv", "overlaps"),
        ("fs-1=/srv/www,fs-1=/srv/www2", "named twice"),
    ],
)
def test_the_www_setting_names_the_same_file_servers(text, complaint):
    homes = {"fs-1": "/srv/homes/fs-1", "fs-2": "/srv/homes/fs-2"}
    with pytest.raises(MountsError, match="WARREN_FILESERVER_WWW_MOUNTS") as error:
        parse_fileserver_www_mounts(text, homes)
    assert complaint in str(error.value)
    assert parse_fileserver_www_mounts("", homes) == {}
    assert parse_fileserver_www_mounts("fs-2=/srv/www/2/,fs-1=/srv/www/1", homes) == {
        "fs-2": "/srv/www/2",
        "fs-1": "/srv/www/1",
    }


def test_the_agent_refuses_to_start_with_www_mounts_of_other_servers():
    env = {
        "WARREN_FILESERVER_MOUNTS": "fs-1=/srv/homes/fs-1",
        "WARREN_FILESERVER_WWW_MOUNTS": "fs-2=/srv/www/fs-2",
    }
    with pytest.raises(ConfigError, match="must name the file servers"):
        load_config(env)


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
