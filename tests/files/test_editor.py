"""The editor: text files open in Ace and save atomically as the user; binary files are
download-only."""

import copy
import json
import os
import stat
from pathlib import Path

import pytest

from accounts.services import custom_limits_set
from tests.files.conftest import put, snapshot, url, with_disk

pytestmark = [pytest.mark.root, pytest.mark.django_db]

BINARY = bytes(range(256)) * 4


def save(client, path: str, text: str | bytes):
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        url("edit", path),
        data=body,
        content_type="text/plain; charset=utf-8",
        HTTP_ACCEPT="application/json",
    )


def file_text(response) -> str:
    page = response.content.decode()
    opening = '<script id="file-text" type="application/json">'
    start = page.index(opening) + len(opening)
    return json.loads(page[start : page.index("</script>", start)])


def test_a_text_file_opens_in_the_editor_with_its_contents(alice, alice_client, home):
    put(home / "mysite" / "app.py", "print('<hi>')\n", alice)
    response = alice_client.get(url("edit", "home/alice/mysite/app.py"))
    assert response.status_code == 200
    assert file_text(response) == "print('<hi>')\n"
    page = response.content.decode()
    assert "vendor/ace/ace.js" in page and "files/editor.js" in page
    assert 'data-name="app.py"' in page and 'data-path="/home/alice/mysite/app.py"' in page


def test_a_wsgi_file_in_var_www_opens_in_the_editor(alice, alice_client, www):
    put(www / "alice_localhost_wsgi.py", "application = None\n", alice)
    response = alice_client.get(url("edit", "var/www/alice_localhost_wsgi.py"))
    assert file_text(response) == "application = None\n"


def test_editor_actions_are_included_with_path_area_and_user(alice, alice_client, www, settings):
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0]["DIRS"], Path(__file__).parent / "templates"]
    settings.TEMPLATES = templates
    settings.WARREN_EDITOR_ACTIONS = ["files_test/editor_action.html"]
    put(www / "w.py", "x = 1\n", alice)
    page = alice_client.get(url("edit", "var/www/w.py")).content.decode()
    assert 'data-path="/var/www/w.py" data-area="www" data-user="alice"' in page


def test_saving_replaces_the_contents_as_the_user_and_keeps_the_mode(alice, alice_client, home):
    put(home / "run.sh", "echo old\n", alice)
    os.chmod(home / "run.sh", 0o750)  # noqa: S103 - an executable script
    response = save(alice_client, "home/alice/run.sh", "echo new ✓\n")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "message": "Saved run.sh.", "size": 13}
    saved = home / "run.sh"
    assert saved.read_text() == "echo new ✓\n"
    assert (saved.stat().st_uid, saved.stat().st_gid) == (alice.uid, alice.uid)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o750
    assert not [p for p in home.iterdir() if p.name.startswith(".warren-")]


def test_saving_a_new_path_creates_the_file(alice, alice_client, home):
    assert save(alice_client, "home/alice/new.py", "x = 1\n").status_code == 200
    assert (home / "new.py").read_text() == "x = 1\n"
    assert (home / "new.py").stat().st_uid == alice.uid


def test_a_binary_file_is_download_only(alice, alice_client, home):
    put(home / "image.png", BINARY, alice)
    response = alice_client.get(url("edit", "home/alice/image.png"))
    page = response.content.decode()
    assert "This is a binary file: it can be downloaded, not edited." in page
    assert 'href="/files/download/home/alice/image.png"' in page
    assert "ace.js" not in page
    response = save(alice_client, "home/alice/image.png", "overwritten")
    assert response.status_code == 400
    assert "binary file" in response.json()["error"]
    assert (home / "image.png").read_bytes() == BINARY


def test_a_file_too_large_for_the_editor_is_download_only(alice, alice_client, home, settings):
    settings.WARREN_EDITOR_MAX_BYTES = 2048
    put(home / "big.log", "x" * 4096, alice)
    page = alice_client.get(url("edit", "home/alice/big.log")).content.decode()
    assert "larger than 2 KiB, the most the editor opens" in page
    response = save(alice_client, "home/alice/big.log", "y" * 4096)
    assert response.status_code == 413
    assert (home / "big.log").read_text() == "x" * 4096


def test_text_that_is_not_utf8_is_refused(alice, alice_client, home):
    put(home / "a.txt", "keep", alice)
    response = save(alice_client, "home/alice/a.txt", b"\xff\xfe bad")
    assert response.status_code == 400 and "UTF-8" in response.json()["error"]
    assert (home / "a.txt").read_text() == "keep"


def test_saving_over_the_quota_is_refused_and_changes_nothing(alice, alice_client, home):
    custom_limits_set(user=alice, **with_disk(alice, 64 * 1024))
    put(home / "notes.txt", "short", alice)
    before = snapshot(home)
    response = save(alice_client, "home/alice/notes.txt", "z" * 70 * 1024)
    assert response.status_code == 413
    error = response.json()["error"]
    assert "would go over your disk quota" in error and "used of 64 KiB" in error
    assert snapshot(home) == before


def test_saving_through_a_link_or_onto_a_folder_is_refused(alice, alice_client, home):
    put(home / "real.txt", "real", alice)
    os.symlink("real.txt", home / "link.txt")
    (home / "folder").mkdir()
    for path, says in (("link.txt", "is a link"), ("folder", "is a folder")):
        response = save(alice_client, f"home/alice/{path}", "new")
        assert response.status_code == 400 and says in response.json()["error"]
    assert (home / "real.txt").read_text() == "real" and (home / "folder").is_dir()


def test_opening_a_folder_in_the_editor_browses_it(alice, alice_client, home):
    (home / "folder").mkdir()
    response = alice_client.get(url("edit", "home/alice/folder"))
    assert response["Location"] == "/files/browse/home/alice/folder/"


def test_a_missing_file_is_404(alice, alice_client):
    assert alice_client.get(url("edit", "home/alice/nope.py")).status_code == 404
