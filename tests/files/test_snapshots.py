"""Restoring from last night's copy in the Files tab: the copy made by the real backup loop,
read through the real fileserver agent, restored beside the original under a new name."""

import json
import os
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import timezone

from tests.files.conftest import put, url
from tests.files.fileservers import backed_up_fileserver

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def backed_up(exec_agent, tmp_path):
    with backed_up_fileserver(exec_agent, tmp_path) as agent:
        yield agent


@pytest.fixture
def alice_home(backed_up, exec_agent):
    alice = backed_up.user("alice")
    home = exec_agent.homes / "alice"
    put(home / "thesis" / "chapter1.md", "# It was a dark and stormy night\n", alice)
    put(home / "thesis" / "notes.txt", "ideas\n", alice)
    put(home / "app.py", "print('working')\n", alice)
    os.symlink("/etc", home / "etc")
    backed_up.back_up(alice)
    # Today: a chapter deleted, a file broken.
    (home / "thesis" / "chapter1.md").unlink()
    (home / "app.py").write_text("print('broken')\n")
    return alice, home


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_browses_last_nights_copy(alice_home):
    alice, _ = alice_home
    client = logged_in(alice)
    page = client.get(url("browse", "home/alice/"))
    assert url("snapshot", "home/alice/") in page.content.decode()
    page = client.get(url("snapshot", "home/alice/thesis/"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "chapter1.md" in text and "notes.txt" in text
    assert "chapter1 (restored).md" in text  # the suggested new name
    # The crumbs stay in the copy: its home crumb leads to the copy's home, not today's.
    assert f'href="{url("snapshot", "home/alice/")}"' in text


def test_the_page_says_when_the_copy_was_taken(alice_home, backed_up):
    alice, _ = alice_home
    client = logged_in(alice)
    page = client.get(url("snapshot", "home/alice/")).content.decode()
    assert "When this copy was taken is not recorded." in page
    # What eternal-rsync writes at the copy's top as it pauses for the snapshot.
    stamp = backed_up.snapshot_root / ".warren-copy.json"
    taken = datetime(2026, 12, 4, 2, 30, tzinfo=UTC)
    since = datetime(2026, 12, 4, 1, 55, tzinfo=UTC)
    stamp.write_text(json.dumps({"taken": taken.timestamp(), "since": since.timestamp()}))
    with timezone.override("UTC"):
        page = client.get(url("snapshot", "home/alice/thesis/")).content.decode()
    assert 'datetime="2026-12-04T02:30:00+00:00"' in page
    assert "Taken <time" in page and ">Fri 4 Dec 2026, 02:30 UTC</time>" in page
    assert "every change you made before 01:55 UTC, and none after it was taken" in page
    stamp.write_text(json.dumps({"taken": taken.timestamp(), "since": None}))
    page = client.get(url("snapshot", "home/alice/")).content.decode()
    assert "part-way through a copy" in page


def test_a_deleted_file_is_restored_beside_where_it_was(alice_home):
    alice, home = alice_home
    response = logged_in(alice).post(
        url("snapshot_restore", "home/alice/thesis/chapter1.md"), {"name": "chapter1.md"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("browse", "home/alice/thesis/")
    restored = home / "thesis" / "chapter1.md"
    assert restored.read_text() == "# It was a dark and stormy night\n"
    assert restored.stat().st_uid == alice.uid


def test_a_folder_is_restored_under_a_new_name(alice_home):
    alice, home = alice_home
    response = logged_in(alice).post(
        url("snapshot_restore", "home/alice/thesis"), {"name": "thesis from yesterday"}
    )
    assert response.status_code == 302
    assert (home / "thesis from yesterday" / "chapter1.md").exists()
    assert not (home / "thesis" / "chapter1.md").exists()


def test_an_existing_name_is_refused_and_nothing_changes(alice_home):
    alice, home = alice_home
    client = logged_in(alice)
    response = client.post(url("snapshot_restore", "home/alice/app.py"), {"name": "app.py"})
    assert response.status_code == 302
    assert response["Location"] == url("snapshot", "home/alice/")
    assert (home / "app.py").read_text() == "print('broken')\n"
    page = client.get(response["Location"])
    assert "already has that name" in page.content.decode()


@pytest.mark.parametrize("name", ["../escaped", "a/b", "", ".", ".."])
def test_a_bad_name_is_refused_with_a_message(alice_home, name):
    alice, home = alice_home
    before = sorted(p.name for p in home.rglob("*"))
    response = logged_in(alice).post(
        url("snapshot_restore", "home/alice/app.py"),
        {"name": name},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert sorted(p.name for p in home.rglob("*")) == before


def test_a_link_leading_out_is_not_followed(alice_home):
    alice, home = alice_home
    client = logged_in(alice)
    page = client.get(url("snapshot", "home/alice/etc/"))
    assert page.status_code == 403
    assert "root:" not in page.content.decode()
    response = client.post(
        url("snapshot_restore", "home/alice/etc/passwd"),
        {"name": "passwd"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 403
    assert not (home / "passwd").exists()


def test_traversal_in_the_url_is_a_404(alice_home):
    alice, _ = alice_home
    client = logged_in(alice)
    assert client.get("/files/last-night/home/alice/../bob/").status_code == 404
    assert client.get(url("snapshot", "var/www/")).status_code == 404


def test_an_outsider_gets_404_for_the_copy_and_the_restore(alice_home, backed_up):
    _, home = alice_home
    mallory = backed_up.user("mallory")
    client = logged_in(mallory)
    assert client.get(url("snapshot", "home/alice/")).status_code == 404
    response = client.post(url("snapshot_restore", "home/alice/app.py"), {"name": "mine.py"})
    assert response.status_code == 404
    assert not (home / "mine.py").exists()


def test_a_missing_copy_is_said_plainly(backed_up):
    bob = backed_up.user("bob")  # never backed up
    page = logged_in(bob).get(url("snapshot", "home/bob/"))
    assert page.status_code == 404
    assert "not in last night" in page.content.decode()


def test_without_a_snapshot_on_the_file_server_the_page_says_so(alice, client):
    client.force_login(alice)
    page = client.get(url("snapshot", f"home/{alice.username}/"))
    assert page.status_code == 404
    assert "no copy of last night" in page.content.decode()
