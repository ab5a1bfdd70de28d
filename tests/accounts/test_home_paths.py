"""The one table of rules for a path a user typed inside their home (accounts.home_paths)."""

import pytest

from accounts.home_paths import home_path_parse, home_path_relative
from config.errors import AppError


class Alice:
    home_path = "/home/alice"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/home/alice"),
        ("  ", "/home/alice"),
        ("~", "/home/alice"),
        ("~/", "/home/alice"),
        ("~/mysite", "/home/alice/mysite"),
        ("mysite", "/home/alice/mysite"),
        ("  mysite/app.py  ", "/home/alice/mysite/app.py"),
        ("/home/alice", "/home/alice"),
        ("/home/alice/", "/home/alice"),
        ("/home/alice/./a//b/", "/home/alice/a/b"),
        ("./a/./b", "/home/alice/a/b"),
        ("a b/c d", "/home/alice/a b/c d"),
        ("x" * 255, "/home/alice/" + "x" * 255),
    ],
)
def test_paths_inside_the_home_are_normalised(raw, expected):
    assert home_path_parse(Alice(), raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a\0b", "not a valid path"),
        ("a/" * 2049, "not a valid path"),
        ("é" * 2049, "not a valid path"),
        ("x" * 256, "not a valid path"),
        ("..", "may not contain '..'"),
        ("a/../b", "may not contain '..'"),
        ("/home/alice/../bob", "may not contain '..'"),
        ("~/../bob", "may not contain '..'"),
        ("/home/alicex", "must be inside your home directory, /home/alice"),
        ("/home", "must be inside your home directory"),
        ("/tmp", "must be inside your home directory"),
        ("/etc/passwd", "must be inside your home directory"),
        ("/", "must be inside your home directory"),
        ("~bob/x", None),  # a relative name beginning with "~" is just a name
    ],
)
def test_paths_that_leave_the_home_or_are_not_paths_are_refused(raw, message):
    if message is None:
        assert home_path_parse(Alice(), raw) == f"/home/alice/{raw}"
        return
    with pytest.raises(AppError, match=message) as refused:
        home_path_parse(Alice(), raw, field="working_directory")
    assert refused.value.field == "working_directory"
    assert refused.value.status == 400


def test_the_refusal_names_what_the_path_was_for():
    with pytest.raises(AppError, match="The virtualenv may not contain"):
        home_path_parse(Alice(), "../x", what="virtualenv")


@pytest.mark.parametrize(
    ("path", "relative"),
    [("/home/alice", ""), ("/home/alice/a/b", "a/b"), ("/home/alice/a/", "a/")],
)
def test_a_parsed_path_is_passed_to_the_agent_beneath_the_home(path, relative):
    assert home_path_relative(Alice(), path) == relative
