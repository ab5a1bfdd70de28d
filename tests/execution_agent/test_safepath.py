"""openat2(RESOLVE_BENEATH) and the component-wise fallback agree on what stays beneath a root."""

from __future__ import annotations

import errno
import os

import pytest

from execution_agent.safepath import HAVE_OPENAT2, open_beneath

MODES = [pytest.param(False, id="walk")]
if HAVE_OPENAT2:
    MODES.append(pytest.param(True, id="openat2"))


@pytest.fixture
def root(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dir").mkdir()
    (tmp_path / "home" / "dir" / "f.txt").write_text("inside")
    (tmp_path / "outside.txt").write_text("outside")
    fd = os.open(tmp_path / "home", os.O_PATH | os.O_DIRECTORY)
    yield tmp_path / "home", fd
    os.close(fd)


def read(fd: int) -> str:
    with os.fdopen(fd) as handle:
        return handle.read()


@pytest.mark.parametrize("use_openat2", MODES)
def test_plain_paths_and_inner_symlinks_resolve(root, use_openat2):
    home, fd = root
    os.symlink("dir/f.txt", home / "file-link")
    os.symlink("../dir", home / "dir" / "self")
    assert (
        read(open_beneath(fd, ["dir", "f.txt"], os.O_RDONLY, use_openat2=use_openat2)) == "inside"
    )
    assert read(open_beneath(fd, ["file-link"], os.O_RDONLY, use_openat2=use_openat2)) == "inside"
    assert (
        read(
            open_beneath(fd, ["dir", "self", "self", "f.txt"], os.O_RDONLY, use_openat2=use_openat2)
        )
        == "inside"
    )


@pytest.mark.parametrize("use_openat2", MODES)
@pytest.mark.parametrize("target", ["../outside.txt", "{abs}", "dir/../../outside.txt"])
def test_symlinks_leaving_the_root_are_refused(root, use_openat2, target):
    home, fd = root
    os.symlink(target.format(abs=home.parent / "outside.txt"), home / "link")
    with pytest.raises(OSError) as error:
        open_beneath(fd, ["link"], os.O_RDONLY, use_openat2=use_openat2)
    assert error.value.errno == errno.EXDEV


@pytest.mark.parametrize("use_openat2", MODES)
def test_magic_links_are_refused(root, use_openat2):
    home, fd = root
    os.symlink("/proc/self/root", home / "magic")
    with pytest.raises(OSError) as error:
        open_beneath(fd, ["magic", "etc", "passwd"], os.O_RDONLY, use_openat2=use_openat2)
    assert error.value.errno in (errno.EXDEV, errno.ELOOP)


@pytest.mark.parametrize("use_openat2", MODES)
def test_create_exclusive_does_not_follow_a_symlink(root, use_openat2):
    home, fd = root
    os.symlink("dir/new.txt", home / "dangling")
    with pytest.raises(FileExistsError):
        open_beneath(
            fd, ["dangling"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, use_openat2=use_openat2
        )
    os.close(
        open_beneath(
            fd, ["dir", "made.txt"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, use_openat2=use_openat2
        )
    )
    assert (home / "dir" / "made.txt").exists()


@pytest.mark.parametrize("use_openat2", MODES)
def test_symlink_loops_end_in_eloop(root, use_openat2):
    home, fd = root
    os.symlink("b", home / "a")
    os.symlink("a", home / "b")
    with pytest.raises(OSError) as error:
        open_beneath(fd, ["a"], os.O_RDONLY, use_openat2=use_openat2)
    assert error.value.errno == errno.ELOOP


@pytest.mark.parametrize("use_openat2", MODES)
def test_a_missing_component_is_enoent_and_a_file_component_enotdir(root, use_openat2):
    _, fd = root
    with pytest.raises(FileNotFoundError):
        open_beneath(fd, ["nope", "x"], os.O_RDONLY, use_openat2=use_openat2)
    with pytest.raises(NotADirectoryError):
        open_beneath(fd, ["dir", "f.txt", "x"], os.O_RDONLY, use_openat2=use_openat2)


@pytest.mark.parametrize("use_openat2", MODES)
def test_o_path_on_a_final_symlink_opens_its_target(root, use_openat2):
    home, fd = root
    os.symlink("dir", home / "dir-link")
    opened = open_beneath(fd, ["dir-link"], os.O_PATH | os.O_DIRECTORY, use_openat2=use_openat2)
    try:
        assert os.fstat(opened).st_ino == (home / "dir").stat().st_ino
    finally:
        os.close(opened)
