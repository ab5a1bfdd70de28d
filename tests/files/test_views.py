"""The Files tab's pages (browse, download, create, rename, delete) for the owner, an outsider
and hostile paths."""

import os

import pytest

from tests.files.conftest import put, snapshot, url

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def test_the_files_tab_opens_on_the_home(alice, alice_client):
    response = alice_client.get("/files/")
    assert response.status_code == 302
    assert response["Location"] == "/files/browse/home/alice/"


def test_the_home_lists_folders_first_with_sizes_and_times(alice, alice_client, home):
    put(home / "zeta.txt", "z" * 2048, alice)
    put(home / "mysite" / "app.py", "print('hi')\n", alice)
    (home / "Aardvark").mkdir()
    os.chown(home / "Aardvark", alice.uid, alice.uid)
    response = alice_client.get(url("browse", "home/alice/"))
    assert response.status_code == 200
    names = [entry.name for entry in response.context["listing"].entries]
    assert names[:2] == ["Aardvark", "mysite"]
    assert names.index("README.txt") < names.index("zeta.txt")
    page = response.content.decode()
    assert "2 KiB" in page and 'href="/files/browse/home/alice/mysite/"' in page
    assert 'href="/files/edit/home/alice/zeta.txt"' in page
    assert 'href="/files/download/home/alice/zeta.txt"' in page
    assert "<time" in page


def test_breadcrumbs_lead_back_up_from_a_subfolder(alice, alice_client, home):
    put(home / "mysite" / "static" / "style.css", "body {}", alice)
    page = alice_client.get(url("browse", "home/alice/mysite/static/")).content.decode()
    assert 'href="/files/browse/home/alice/"' in page
    assert 'href="/files/browse/home/alice/mysite/"' in page
    assert "style.css" in page


def test_the_listing_page_makes_a_bounded_number_of_queries(
    alice, alice_client, home, django_assert_max_num_queries
):
    for number in range(30):
        put(home / "many" / f"file-{number}.txt", "x", alice)
    with django_assert_max_num_queries(8):
        response = alice_client.get(url("browse", "home/alice/many/"))
    assert len(response.context["listing"].entries) == 30


def test_the_web_directory_is_browsed_at_var_www(alice, alice_client, www):
    put(www / "alice_localhost_wsgi.py", "application = None\n", alice)
    response = alice_client.get(url("browse", "var/www/"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/files/edit/var/www/alice_localhost_wsgi.py"' in page
    assert "/var/www" in page


def test_a_file_path_in_browse_opens_the_editor(alice, alice_client, home):
    put(home / "notes.txt", "hello", alice)
    response = alice_client.get(url("browse", "home/alice/notes.txt/"))
    assert response.status_code == 302
    assert response["Location"] == "/files/edit/home/alice/notes.txt"


def test_download_streams_the_file_as_an_attachment(alice, alice_client, home):
    put(home / "page.html", "<script>alert(1)</script>", alice)
    response = alice_client.get(url("download", "home/alice/page.html"))
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_creating_a_folder_and_a_file(alice, alice_client, home):
    response = alice_client.post(url("create", "home/alice/"), {"kind": "folder", "name": "src"})
    assert response.status_code == 302
    assert (home / "src").is_dir() and (home / "src").stat().st_uid == alice.uid
    response = alice_client.post(url("create", "home/alice/src/"), {"kind": "file", "name": "a.py"})
    assert response["Location"] == "/files/edit/home/alice/src/a.py"
    assert (home / "src" / "a.py").read_bytes() == b""
    assert (home / "src" / "a.py").stat().st_uid == alice.uid


def test_creating_something_that_exists_says_so_and_changes_nothing(alice, alice_client, home):
    put(home / "taken.txt", "keep me", alice)
    response = alice_client.post(
        url("create", "home/alice/"), {"kind": "file", "name": "taken.txt"}, follow=True
    )
    assert "/home/alice/taken.txt already exists." in response.content.decode()
    assert (home / "taken.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("a/b", "cannot contain “/”"),
        ("../escape", "cannot contain “/”"),
        ("nul\0name", "NUL"),
        ("x" * 256, "at most 255 bytes"),
        ("é" * 128, "at most 255 bytes"),
        ("", "cannot be empty"),
        ("..", "cannot be empty"),
        ("two\nlines.txt", "cannot contain a line break"),
        ("tab\there", "cannot contain a line break, a tab"),
        ("   ", "cannot be only spaces"),
        ("trailing.txt ", "cannot start or end with a space"),
    ],
    ids=[
        "slash",
        "dotdot-slash",
        "nul",
        "256-ascii",
        "256-bytes-utf8",
        "empty",
        "dotdot",
        "newline",
        "tab",
        "only-spaces",
        "trailing-space",
    ],
)
def test_bad_names_are_refused_with_a_reason(alice, alice_client, home, name, says):
    before = snapshot(home)
    for kind in ("file", "folder"):
        response = alice_client.post(
            url("create", "home/alice/"), {"kind": kind, "name": name}, follow=True
        )
        assert response.status_code == 200
        assert says in response.content.decode()
    assert snapshot(home) == before


def test_rename_asks_for_the_new_name_then_renames(alice, alice_client, home):
    put(home / "old.txt", "data", alice)
    form = alice_client.get(url("rename", "home/alice/old.txt"))
    assert form.status_code == 200 and 'value="old.txt"' in form.content.decode()
    response = alice_client.post(url("rename", "home/alice/old.txt"), {"name": "new.txt"})
    assert response["Location"] == "/files/browse/home/alice/"
    assert (home / "new.txt").read_text() == "data" and not (home / "old.txt").exists()


def test_rename_never_overwrites_and_refuses_slashes(alice, alice_client, home):
    put(home / "a.txt", "a", alice)
    put(home / "b.txt", "b", alice)
    for new_name, says in (("b.txt", "already exists"), ("sub/a.txt", "cannot contain “/”")):
        response = alice_client.post(
            url("rename", "home/alice/a.txt"), {"name": new_name}, follow=True
        )
        assert says in response.content.decode()
    assert (home / "a.txt").read_text() == "a" and (home / "b.txt").read_text() == "b"


def test_rename_refuses_a_name_with_a_newline_or_only_spaces(alice, alice_client, home):
    put(home / "a.txt", "a", alice)
    before = snapshot(home)
    for new_name, says in (("a\nb", "line break"), ("  ", "only spaces")):
        response = alice_client.post(
            url("rename", "home/alice/a.txt"), {"name": new_name}, follow=True
        )
        assert response.status_code == 200 and says in response.content.decode()
    assert snapshot(home) == before


# Names a console can make but the Files tab refuses to give: each must still be seen
# (quoted, with escapes) and reachable, or the user could never remove it from here.
ODD_NAMES = {
    "newline": ("two\nlines.txt", "“two\\nlines.txt”"),
    "only-spaces": ("   ", "“   ”"),
    "trailing-space": ("notes.txt ", "“notes.txt ”"),
    "not-utf8": (os.fsdecode(b"caf\xe9.txt"), "“caf\\xe9.txt”"),
}


@pytest.mark.parametrize("odd", ODD_NAMES.values(), ids=ODD_NAMES.keys())
def test_a_name_a_console_made_is_listed_renamable_and_deletable(alice, alice_client, home, odd):
    name, shown = odd
    put(home / name, "made in a console", alice)
    listing = alice_client.get(url("browse", "home/alice/"))
    assert listing.status_code == 200
    entry = next(entry for entry in listing.context["listing"].entries if entry.name == name)
    assert f">{shown}" in listing.content.decode()

    if entry.url:  # UTF-8 names open in the editor; others are opened once renamed
        assert alice_client.get(entry.url).status_code == 200
    download = alice_client.get(entry.download_url)
    assert b"".join(download.streaming_content) == b"made in a console"

    form = alice_client.get(entry.rename_url)
    assert form.status_code == 200 and shown in form.content.decode()
    response = alice_client.post(entry.rename_url, {"name": "tidy.txt"}, follow=True)
    assert "Renamed" in response.content.decode()
    assert (home / "tidy.txt").read_text() == "made in a console"
    assert not (home / name).exists()

    put(home / name, "again", alice)
    assert alice_client.get(entry.delete_url).status_code == 200
    response = alice_client.post(entry.delete_url, follow=True)
    assert f"Deleted {shown}." in response.content.decode()
    assert not (home / name).exists()


def test_a_folder_with_a_newline_in_its_name_can_be_browsed(alice, alice_client, home):
    put(home / "odd\nfolder" / "inside.txt", "x", alice)
    listing = alice_client.get(url("browse", "home/alice/"))
    entry = next(e for e in listing.context["listing"].entries if e.name == "odd\nfolder")
    page = alice_client.get(entry.url)
    assert page.status_code == 200
    assert "inside.txt" in page.content.decode()


def test_delete_asks_for_confirmation_before_deleting(alice, alice_client, home):
    put(home / "tree" / "deep" / "f.txt", "x", alice)
    confirm = alice_client.get(url("delete", "home/alice/tree"))
    assert confirm.status_code == 200
    assert "and everything in it will be deleted" in confirm.content.decode()
    assert (home / "tree").exists()
    response = alice_client.post(url("delete", "home/alice/tree"))
    assert response["Location"] == "/files/browse/home/alice/"
    assert not (home / "tree").exists()


def test_the_home_itself_cannot_be_renamed_or_deleted(alice, alice_client, home):
    for name in ("rename", "delete"):
        assert alice_client.get(url(name, "home/alice/")).status_code == 404
        alice_client.post(url(name, "home/alice/"), {"name": "x"})
    assert home.is_dir() and (home / "README.txt").exists()


# --- someone else's files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("browse", "get"),
        ("edit", "get"),
        ("edit", "post"),
        ("download", "get"),
        ("upload", "post"),
        ("create", "post"),
        ("rename", "get"),
        ("rename", "post"),
        ("delete", "get"),
        ("delete", "post"),
    ],
)
def test_another_users_paths_are_404_and_untouched(
    alice, mallory, outsider_client, home, name, method
):
    put(home / "secret.txt", "alice's", alice)
    before = snapshot(home)
    path = "home/alice/secret.txt" if name not in ("browse", "upload", "create") else "home/alice/"
    response = getattr(outsider_client, method)(url(name, path), {"name": "x", "kind": "file"})
    assert response.status_code == 404
    assert snapshot(home) == before


def test_var_www_is_always_the_requesters_own(alice, mallory, outsider_client, www, exec_agent):
    put(www / "alice_wsgi.py", "alice's", alice)
    page = outsider_client.get(url("browse", "var/www/")).content.decode()
    assert "alice_wsgi.py" not in page
    assert outsider_client.get(url("download", "var/www/alice_wsgi.py")).status_code == 404


def test_logged_out_visitors_are_sent_to_log_in(alice, client):
    response = client.get(url("browse", "home/alice/"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- hostile paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "home/alice/../mallory/",
        "home/alice/./",
        "home/mallory/",
        "home/",
        "etc/passwd",
        "var/www/../../etc/",
        "home/alice/" + "x" * 256 + "/",
        "home/alice/" + "d/" * 2100,
    ],
    ids=["dotdot", "dot", "other-home", "homes", "etc", "www-dotdot", "long-name", "long-path"],
)
def test_hostile_paths_in_the_url_are_404(alice, mallory, alice_client, path):
    assert alice_client.get(url("browse", path)).status_code == 404


def test_percent_encoded_nul_and_dots_are_404(alice, alice_client):
    for raw in (
        "/files/browse/home/alice/%00/",
        "/files/edit/home/alice/a%00b",
        "/files/browse/home/alice/%2e%2e/mallory/",
    ):
        assert alice_client.get(raw).status_code == 404, raw


def test_a_symlink_out_of_the_home_is_refused_with_a_message(
    alice, mallory, alice_client, home, exec_agent
):
    put(exec_agent.homes / "mallory" / "diary.txt", "MALLORY", mallory)
    os.chmod(exec_agent.homes / "mallory", 0o755)  # noqa: S103 - only confinement may stop it
    os.chmod(exec_agent.homes / "mallory" / "diary.txt", 0o644)
    os.symlink(str(exec_agent.homes / "mallory"), home / "to-mallory")
    os.symlink("../mallory/diary.txt", home / "diary-link")
    before = snapshot(home)
    for name, path in (
        ("browse", "home/alice/to-mallory/"),
        ("edit", "home/alice/diary-link"),
        ("download", "home/alice/diary-link"),
        ("download", "home/alice/to-mallory/diary.txt"),
    ):
        response = alice_client.get(url(name, path))
        assert response.status_code == 403, (name, path)
        assert "leads outside your files" in response.content.decode()
        assert b"MALLORY" not in response.content
    assert snapshot(home) == before


def test_a_symlink_swapped_during_downloads_never_serves_what_is_outside(
    alice, alice_client, home, exec_agent
):
    import threading

    outside = exec_agent.base / "outside-for-django"
    outside.mkdir(exist_ok=True)
    (outside / "f.txt").write_text("OUTSIDE")
    os.chmod(outside, 0o755)  # noqa: S103 - world-readable on purpose
    put(home / "real" / "f.txt", "INSIDE", alice)
    stop = threading.Event()

    def flip():
        while not stop.is_set():
            for target in ("real", str(outside)):
                os.symlink(target, home / "swap-next")
                os.replace(home / "swap-next", home / "swap")

    flipper = threading.Thread(target=flip)
    flipper.start()
    seen = {"INSIDE": 0, "OUTSIDE": 0, "refused": 0}
    try:
        for _ in range(60):
            response = alice_client.get(url("download", "home/alice/swap/f.txt"))
            if response.status_code == 200:
                seen[b"".join(response.streaming_content).decode()] += 1
            else:
                assert response.status_code in (403, 404)
                seen["refused"] += 1
    finally:
        stop.set()
        flipper.join()
    assert seen["OUTSIDE"] == 0
    assert seen["INSIDE"] > 0 and seen["refused"] > 0


def test_the_execution_agent_being_down_is_a_clear_503(alice, alice_client, settings):
    settings.WARREN_EXEC_AGENT_SOCKET = "/nonexistent/agent.sock"
    from servers.models import Server

    Server.objects.filter(kind="console").update(execution_agent_socket="/nonexistent/agent.sock")
    response = alice_client.get(url("browse", "home/alice/"))
    assert response.status_code == 503
    assert "cannot be reached right now" in response.content.decode()


def test_a_big_folder_is_listed_a_page_at_a_time(alice, alice_client, home):
    folder = home / "big"
    put(folder / "sub" / "x.txt", "x", alice)
    for number in range(1100):
        (folder / f"f{number:04d}.txt").write_bytes(b"")
    first = alice_client.get(url("browse", "home/alice/big/"))
    assert [entry.name for entry in first.context["listing"].entries][:2] == ["sub", "f0000.txt"]
    assert len(first.context["listing"].entries) == 500
    assert "Entries 1 to 500 of 1101" in first.content.decode()
    last = alice_client.get(url("browse", "home/alice/big/") + "?page=3")
    assert [entry.name for entry in last.context["listing"].entries][-1] == "f1099.txt"
    assert "Entries 1001 to 1101 of 1101" in last.content.decode()
    assert 'href="?page=2"' in last.content.decode()
    for odd in ("?page=99", "?page=-1", "?page=x", "?page=²", "?page=" + "9" * 5000):
        assert alice_client.get(url("browse", "home/alice/big/") + odd).status_code == 200


def test_names_with_spaces_hashes_and_accents_round_trip_through_urls(alice, alice_client, home):
    name = "my notes #1?é%.txt"
    alice_client.post(url("create", "home/alice/"), {"kind": "file", "name": name})
    assert (home / name).exists()
    page = alice_client.get(url("browse", "home/alice/")).content.decode()
    link = "/files/edit/home/alice/my%20notes%20%231%3F%C3%A9%25.txt"
    assert f'href="{link}"' in page
    assert alice_client.get(link).status_code == 200
