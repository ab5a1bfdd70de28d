"""File operations in a home: done as the user, confined beneath the home, fds passed back."""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from execution_agent.client import AgentError

pytestmark = pytest.mark.root


@pytest.fixture
def home(harness, alice):
    return harness.homes / alice["username"]


def chown_to(path, user) -> None:
    os.chown(path, user["uid"], user["uid"], follow_symlinks=False)


def test_list_describes_entries(client, home, alice):
    (home / "notes.txt").write_text("hello")
    (home / "src").mkdir()
    os.symlink("notes.txt", home / "link")
    entries = {e["name"]: e for e in client.fs_list(user=alice, path="")}
    assert entries["notes.txt"]["type"] == "file" and entries["notes.txt"]["size"] == 5
    assert entries["src"]["type"] == "dir" and entries["link"]["type"] == "symlink"
    assert isinstance(entries["notes.txt"]["mtime"], float)
    assert entries["notes.txt"]["mode"] == stat.S_IMODE((home / "notes.txt").stat().st_mode)


def test_files_created_through_the_agent_belong_to_the_user(client, home, alice):
    client.fs_mkdir(user=alice, path="project")
    fd, size = client.fs_open(user=alice, path="project/app.py", mode="x")
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"print('hi')\n")
    assert size == 0
    for path in (home / "project", home / "project" / "app.py"):
        assert (path.stat().st_uid, path.stat().st_gid) == (alice["uid"], alice["uid"])
    fd, size = client.fs_open(user=alice, path="project/app.py", mode="r")
    with os.fdopen(fd, "rb") as handle:
        assert handle.read() == b"print('hi')\n"
    assert size == 12
    assert client.fs_stat(user=alice, path="project/app.py")["size"] == 12


def test_open_w_truncates_and_x_refuses_an_existing_file(client, home, alice):
    (home / "data.txt").write_text("old content")
    chown_to(home / "data.txt", alice)
    fd, _ = client.fs_open(user=alice, path="data.txt", mode="w")
    os.close(fd)
    assert (home / "data.txt").read_text() == ""
    with pytest.raises(AgentError) as error:
        client.fs_open(user=alice, path="data.txt", mode="x")
    assert (error.value.code, error.value.errno) == ("failed", "EEXIST")


def test_rename_refuses_to_overwrite_unless_asked(client, home, alice):
    for name in ("a.txt", "b.txt"):
        (home / name).write_text(name)
        chown_to(home / name, alice)
    with pytest.raises(AgentError) as error:
        client.fs_rename(user=alice, src="a.txt", dst="b.txt")
    assert error.value.errno == "EEXIST"
    client.fs_rename(user=alice, src="a.txt", dst="b.txt", replace=True)
    assert (home / "b.txt").read_text() == "a.txt" and not (home / "a.txt").exists()


def test_delete_removes_files_and_directories_recursively_only_when_asked(client, home, alice):
    client.fs_mkdir(user=alice, path="tree")
    client.fs_mkdir(user=alice, path="tree/sub")
    os.close(client.fs_open(user=alice, path="tree/sub/f.txt", mode="x")[0])
    with pytest.raises(AgentError):
        client.fs_delete(user=alice, path="tree")
    client.fs_delete(user=alice, path="tree", recursive=True)
    assert not (home / "tree").exists()


def test_a_recursive_delete_does_not_follow_symlinks_out(client, harness, home, alice, bob):
    bobs = harness.homes / bob["username"] / "keep.txt"
    bobs.write_text("bob")
    client.fs_mkdir(user=alice, path="tree")
    os.symlink(str(bobs.parent), home / "tree" / "escape")
    client.fs_delete(user=alice, path="tree", recursive=True)
    assert bobs.read_text() == "bob"


def test_the_users_own_permissions_apply_not_roots(client, home, alice):
    (home / "root-only.txt").write_text("root secret")
    os.chmod(home / "root-only.txt", 0o600)  # owned by root
    with pytest.raises(AgentError) as error:
        client.fs_open(user=alice, path="root-only.txt", mode="r")
    assert (error.value.code, error.value.errno) == ("forbidden", "EACCES")


def test_a_fifo_in_the_home_is_refused_without_hanging(client, home, alice):
    os.mkfifo(home / "pipe")
    chown_to(home / "pipe", alice)
    with pytest.raises(AgentError) as error:
        client.fs_open(user=alice, path="pipe", mode="r")
    assert error.value.code == "bad_request"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("../bob/secret", "forbidden"),
        ("a/../../etc/passwd", "forbidden"),
        ("/etc/passwd", "forbidden"),
        ("a\0b", "bad_request"),
        ("x" * 256, "bad_request"),
        ("a/" * 2100, "bad_request"),
    ],
)
def test_paths_that_leave_the_home_or_are_malformed_are_refused(client, alice, path, code):
    with pytest.raises(AgentError) as error:
        client.fs_open(user=alice, path=path, mode="r")
    assert error.value.code == code


@pytest.mark.parametrize("target", ["{outside}", "../../../../../../../{outside}", "{outside_dir}"])
def test_symlinks_that_leave_the_home_are_refused(client, harness, home, alice, target):
    # A world-readable file outside: only the confinement (not permissions) can stop this.
    outside = harness.base / "world-readable.txt"
    outside.write_text("OUTSIDE")
    os.chmod(outside, 0o644)
    link_target = target.format(outside=outside, outside_dir=harness.base)
    os.symlink(link_target, home / "link")
    path = "link/world-readable.txt" if "outside_dir" in target else "link"
    with pytest.raises(AgentError) as error:
        client.fs_open(user=alice, path=path, mode="r")
    assert error.value.code == "forbidden"


def test_symlinks_that_stay_in_the_home_are_followed(client, home, alice):
    (home / "real").mkdir()
    (home / "real" / "f.txt").write_text("inside")
    os.symlink("../real", home / "real" / "loop-back")
    os.symlink("real/loop-back", home / "alias")
    fd, _ = client.fs_open(user=alice, path="alias/f.txt", mode="r")
    with os.fdopen(fd) as handle:
        assert handle.read() == "inside"


def test_the_home_itself_cannot_be_deleted_or_renamed(client, alice):
    for call in (
        lambda: client.fs_delete(user=alice, path="", recursive=True),
        lambda: client.fs_rename(user=alice, src="", dst="x"),
    ):
        with pytest.raises(AgentError) as error:
            call()
        assert error.value.code == "forbidden"


def test_a_symlink_swapped_in_between_check_and_use_never_escapes(client, harness, home, alice):
    outside = harness.base / "outside-dir"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("OUTSIDE")
    os.chmod(outside, 0o755)  # noqa: S103 - world-readable on purpose
    os.chmod(outside / "secret.txt", 0o644)
    real = home / "real"
    real.mkdir()
    (real / "secret.txt").write_text("INSIDE")
    chown_to(real, alice)
    swap, staging = home / "swap", home / "swap-next"
    stop = threading.Event()

    def flip() -> None:
        # Atomically alternate `swap` between a symlink to a real dir and one to the outside.
        while not stop.is_set():
            for target in ("real", str(outside)):
                os.symlink(target, staging)
                os.replace(staging, swap)

    flipper = threading.Thread(target=flip)
    flipper.start()
    seen = {"INSIDE": 0, "OUTSIDE": 0, "refused": 0}
    try:
        for _ in range(300):
            try:
                fd, _ = client.fs_open(user=alice, path="swap/secret.txt", mode="r")
            except AgentError as error:
                assert error.code in ("forbidden", "not_found")
                seen["refused"] += 1
                continue
            with os.fdopen(fd) as handle:
                seen[handle.read()] += 1
    finally:
        stop.set()
        flipper.join()
    assert seen["OUTSIDE"] == 0
    assert seen["INSIDE"] > 0 and seen["refused"] > 0  # the race really was run


def test_concurrent_requests_for_different_users_keep_their_identities(client, harness, make_user):
    users = [make_user("conc") for _ in range(4)]
    for user in users:
        (harness.homes / user["username"] / f"{user['username']}.txt").write_text("x")

    def names(user) -> set[str]:
        return {entry["name"] for entry in client.fs_list(user=user, path="")}

    with ThreadPoolExecutor(max_workers=8) as pool:
        for user, listed in zip(users * 10, pool.map(names, users * 10), strict=True):
            assert listed == {f"{user['username']}.txt"}
    # The agent's threads went back to root afterwards: it can still prepare a sandbox.
    assert client.run(user=users[0], argv=["true"])["returncode"] == 0


# --- the web directory (area="www"): same confinement and identity as the home ------------


@pytest.fixture
def www(harness, alice):
    return harness.www / alice["username"]


def test_the_web_directory_is_reached_with_area_www_and_files_belong_to_the_user(
    client, home, www, alice
):
    client.fs_mkdir(user=alice, path="static", area="www")
    fd, _ = client.fs_open(user=alice, path="alice_localhost_wsgi.py", mode="x", area="www")
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"application = None\n")
    wsgi = www / "alice_localhost_wsgi.py"
    assert wsgi.read_bytes() == b"application = None\n"
    assert (wsgi.stat().st_uid, wsgi.stat().st_gid) == (alice["uid"], alice["uid"])
    names = {entry["name"] for entry in client.fs_list(user=alice, area="www")}
    assert names == {"static", "alice_localhost_wsgi.py"}
    assert not (home / "alice_localhost_wsgi.py").exists()
    assert client.fs_stat(user=alice, path="alice_localhost_wsgi.py", area="www")["size"] == 19
    client.fs_rename(user=alice, src="alice_localhost_wsgi.py", dst="static/w.py", area="www")
    client.fs_delete(user=alice, path="static", recursive=True, area="www")
    assert list(www.iterdir()) == []


def test_an_unknown_area_is_refused(client, alice):
    with pytest.raises(AgentError) as error:
        client.call("fs_list", user=alice, path="", area="etc")
    assert error.value.code == "bad_request" and "area" in error.value.message


def test_a_missing_web_directory_is_refused_not_created(client, harness, make_user):
    user = make_user("nowww", www=False)
    with pytest.raises(AgentError) as error:
        client.fs_list(user=user, area="www")
    assert error.value.code == "forbidden"
    assert not (harness.www / user["username"]).exists()


def test_a_web_directory_owned_by_someone_else_is_refused(client, harness, alice, bob):
    www = harness.www / alice["username"]
    os.chown(www, bob["uid"], bob["uid"])
    with pytest.raises(AgentError) as error:
        client.fs_list(user=alice, area="www")
    assert error.value.code == "forbidden"


@pytest.mark.parametrize("path", ["../bob/x", "/etc/passwd", "a/../../x"])
def test_paths_that_leave_the_web_directory_are_refused(client, alice, path):
    with pytest.raises(AgentError) as error:
        client.fs_open(user=alice, path=path, mode="r", area="www")
    assert error.value.code == "forbidden"


def test_symlinks_from_the_web_directory_to_the_home_or_elsewhere_are_refused(
    client, harness, home, www, alice, bob
):
    (home / "secret.txt").write_text("home")
    os.symlink(str(home), www / "to-home")
    os.symlink(str(harness.www / bob["username"]), www / "to-bob")
    os.symlink("../" + bob["username"], www / "relative-to-bob")
    for link in ("to-home/secret.txt", "to-bob", "relative-to-bob"):
        with pytest.raises(AgentError) as error:
            client.fs_list(user=alice, path=link, area="www")
        assert error.value.code == "forbidden", link


def test_a_symlink_swapped_in_the_web_directory_never_escapes(client, harness, www, alice):
    outside = harness.base / "outside-www"
    outside.mkdir(exist_ok=True)
    (outside / "f.txt").write_text("OUTSIDE")
    os.chmod(outside, 0o755)  # noqa: S103 - world-readable on purpose
    os.chmod(outside / "f.txt", 0o644)
    (www / "real").mkdir()
    (www / "real" / "f.txt").write_text("INSIDE")
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            for target in ("real", str(outside)):
                os.symlink(target, www / "swap-next")
                os.replace(www / "swap-next", www / "swap")

    flipper = threading.Thread(target=flip)
    flipper.start()
    seen = {"INSIDE": 0, "OUTSIDE": 0, "refused": 0}
    try:
        for _ in range(200):
            try:
                fd, _ = client.fs_open(user=alice, path="swap/f.txt", mode="r", area="www")
            except AgentError as error:
                assert error.code in ("forbidden", "not_found")
                seen["refused"] += 1
                continue
            with os.fdopen(fd) as handle:
                seen[handle.read()] += 1
    finally:
        stop.set()
        flipper.join()
    assert seen["OUTSIDE"] == 0
    assert seen["INSIDE"] > 0 and seen["refused"] > 0


# --- perm: a new file's permission bits ---------------------------------------------------


def test_a_new_file_can_be_given_its_permission_bits(client, home, alice):
    fd, _ = client.fs_open(user=alice, path="run.sh", mode="x", perm=0o775)
    os.close(fd)
    # Exactly the bits asked for: the agent's umask does not strip group write.
    assert stat.S_IMODE((home / "run.sh").stat().st_mode) == 0o775
    assert (home / "run.sh").stat().st_uid == alice["uid"]


@pytest.mark.parametrize(("mode", "perm"), [("r", 0o644), ("w", 0o644), ("x", 0o4755), ("x", -1)])
def test_perm_is_refused_unless_creating_with_plain_permission_bits(
    client, home, alice, mode, perm
):
    (home / "exists.txt").write_text("keep")
    chown_to(home / "exists.txt", alice)
    path = "exists.txt" if mode != "x" else "new.txt"
    with pytest.raises(AgentError) as error:
        client.fs_open(user=alice, path=path, mode=mode, perm=perm)
    assert error.value.code == "bad_request"
    assert (home / "exists.txt").read_text() == "keep" and not (home / "new.txt").exists()
