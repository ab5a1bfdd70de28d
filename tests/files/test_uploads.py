"""Uploads: several files streamed into the folder as the user, all or nothing, within limits."""

import os

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload
from django.test import Client

from accounts.services import custom_limits_set
from files.paths import home_of
from files.selectors import StorageUsage
from files.uploads import AgentUploadHandler
from servers.models import Server
from tests.consoles.conftest import session_cookie
from tests.files.conftest import MIB, put, snapshot, url, with_disk
from tests.live import LiveServer

pytestmark = [pytest.mark.root, pytest.mark.django_db]

KIB = 1024


def upload(client, path: str, *files, json=True):
    headers = {"HTTP_ACCEPT": "application/json"} if json else {}
    return client.post(url("upload", path), {"files": list(files)}, **headers)


def a_file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def no_temporaries(directory) -> bool:
    return not list(directory.rglob(".warren-*"))


def test_several_files_arrive_whole_and_belong_to_the_user(alice, alice_client, home):
    big = bytes(range(256)) * 2048  # 512 KiB: several chunks
    response = upload(alice_client, "home/alice/", a_file("a.bin", big), a_file("b.txt", b"hi\n"))
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": "Uploaded 2 files: a.bin, b.txt.",
        "redirect": "/files/browse/home/alice/",
    }
    assert (home / "a.bin").read_bytes() == big and (home / "b.txt").read_bytes() == b"hi\n"
    for name in ("a.bin", "b.txt"):
        assert (home / name).stat().st_uid == alice.uid
    assert no_temporaries(home)


def test_an_upload_without_scripts_redirects_with_a_message(alice, alice_client, home):
    response = upload(alice_client, "home/alice/", a_file("c.txt", b"c"), json=False)
    assert response.status_code == 302 and response["Location"] == "/files/browse/home/alice/"
    page = alice_client.get(response["Location"]).content.decode()
    assert "Uploaded 1 file: c.txt." in page


def test_uploads_go_into_subfolders_and_the_web_directory(alice, alice_client, home, www):
    put(home / "mysite" / "keep.txt", "k", alice)
    assert upload(alice_client, "home/alice/mysite/", a_file("app.py", b"x")).json()["ok"]
    assert upload(alice_client, "var/www/", a_file("alice_wsgi.py", b"w")).json()["ok"]
    assert (home / "mysite" / "app.py").read_bytes() == b"x"
    assert (www / "alice_wsgi.py").read_bytes() == b"w"


def test_an_upload_replaces_a_file_of_the_same_name(alice, alice_client, home):
    put(home / "data.csv", "old", alice)
    upload(alice_client, "home/alice/", a_file("data.csv", b"new"))
    assert (home / "data.csv").read_bytes() == b"new"


def test_a_path_in_the_uploaded_name_is_reduced_to_the_name(alice, alice_client, home):
    response = upload(alice_client, "home/alice/", a_file("../../etc/evil.txt", b"e"))
    assert response.json()["ok"]
    assert (home / "evil.txt").read_bytes() == b"e"


@pytest.mark.parametrize(
    ("files", "status", "says"),
    [
        ([], 400, "Choose at least one file"),
        ([("empty.txt", b"")], 400, "empty.txt is empty"),
        ([("ok.txt", b"ok"), ("empty.txt", b"")], 400, "empty.txt is empty"),
        ([("é" * 200, b"x")], 400, "at most 255 bytes"),  # 200 chars, 400 bytes
    ],
    ids=["no-file", "empty-file", "one-empty-of-two", "long-name"],
)
def test_bad_uploads_are_refused_and_leave_nothing(alice, alice_client, home, files, status, says):
    before = snapshot(home)
    response = upload(alice_client, "home/alice/", *(a_file(n, d) for n, d in files))
    assert response.status_code == status
    assert says in response.json()["error"]
    assert snapshot(home) == before


def test_a_file_over_the_size_limit_is_refused_whole(alice, alice_client, home, settings):
    settings.WARREN_UPLOAD_MAX_BYTES = 300 * KIB
    before = snapshot(home)
    response = upload(
        alice_client, "home/alice/", a_file("small.txt", b"s"), a_file("big.bin", b"b" * 400 * KIB)
    )
    assert response.status_code == 413
    assert "big.bin is larger than 300 KiB, the most one file may be" in response.json()["error"]
    assert snapshot(home) == before


def test_an_upload_over_the_quota_is_refused_with_the_usage(alice, alice_client, home):
    custom_limits_set(user=alice, **with_disk(alice, 256 * KIB))
    before = snapshot(home)
    response = upload(alice_client, "home/alice/", a_file("big.bin", b"b" * 300 * KIB))
    assert response.status_code == 413
    error = response.json()["error"]
    assert "would go over your disk quota" in error
    assert " used of 256 KiB (" in error and error.endswith("Nothing was written.")
    assert snapshot(home) == before


def test_the_quota_is_counted_while_streaming_too(alice, home, rf):
    # A body whose declared length understates it (or chunked) is still stopped in time.
    usage = StorageUsage(used_bytes=0, limit_bytes=100 * KIB)
    handler = AgentUploadHandler(
        rf.post("/"), user=alice, directory=home_of(alice), usage=usage, max_file_bytes=1 << 30
    )
    handler.handle_raw_input(None, {}, 0, b"boundary")
    handler.new_file("files", "sneaky.bin", "application/octet-stream", None)
    handler.receive_data_chunk(b"x" * 64 * KIB, 0)
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 64 * KIB, 64 * KIB)
    assert "would go over your disk quota" in handler.problem.message
    handler.discard()
    assert no_temporaries(home) and not (home / "sneaky.bin").exists()


def test_uploads_pause_while_the_usage_cannot_be_checked(alice, alice_client, home):
    Server.objects.filter(kind="file").update(fileserver_agent_url="http://127.0.0.1:9")
    before = snapshot(home)
    response = upload(alice_client, "home/alice/", a_file("a.txt", b"a"))
    assert response.status_code == 503
    assert "cannot be checked right now" in response.json()["error"]
    assert snapshot(home) == before


def test_a_name_taken_by_a_folder_refuses_the_whole_batch(alice, alice_client, home):
    (home / "taken").mkdir()
    before = snapshot(home)
    response = upload(alice_client, "home/alice/", a_file("fine.txt", b"f"), a_file("taken", b"t"))
    assert response.status_code == 409
    assert "/home/alice/taken exists and is not a file" in response.json()["error"]
    assert snapshot(home) == before


def test_uploading_into_a_missing_folder_or_a_file_is_404(alice, alice_client, home):
    put(home / "file.txt", "f", alice)
    os.symlink("file.txt", home / "file-link")
    for path in ("home/alice/missing/", "home/alice/file.txt/", "home/alice/file-link/"):
        assert upload(alice_client, path, a_file("a.txt", b"a")).status_code == 404
    assert no_temporaries(home)


def test_uploading_through_a_link_to_a_folder_in_the_home_works(alice, alice_client, home):
    put(home / "real" / "keep.txt", "k", alice)
    os.symlink("real", home / "alias")
    assert upload(alice_client, "home/alice/alias/", a_file("a.txt", b"a")).json()["ok"]
    assert (home / "real" / "a.txt").read_bytes() == b"a"


def test_a_forged_cross_site_upload_is_refused_and_leaves_nothing(alice, home):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    before = snapshot(home)
    response = client.post(url("upload", "home/alice/"), {"files": [a_file("x.txt", b"x")]})
    assert response.status_code == 403
    assert snapshot(home) == before


def test_a_truncated_upload_body_is_a_400_and_leaves_nothing(alice, alice_client, home):
    body = (
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="files"; filename="half.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"h" * 300 * KIB
    )
    before = snapshot(home)
    response = alice_client.post(
        url("upload", "home/alice/"),
        data=body,
        content_type="multipart/form-data; boundary=BOUNDARY",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert snapshot(home) == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_uploads_under_the_limit_arrive_through_the_real_server(alice, home, tmp_path):
    # The ASGI server and the body guard in front of Django (config.bodyguard), not the test
    # client: a body of 3 MiB is past Django's in-memory spooling, under the request limit.
    data = os.urandom(3 * MIB)
    server = LiveServer(tmp_path)
    try:
        http = requests.Session()
        cookie = session_cookie(alice).decode()
        http.headers["Cookie"] = cookie
        http.get(f"{server.url}{url('browse', 'home/alice/')}", timeout=10)
        token = http.cookies["csrftoken"]
        http.headers["Cookie"] = f"{cookie}; csrftoken={token}"
        part = b'Content-Disposition: form-data; name="files"; filename="big.bin"\r\n\r\n'
        body = b"--7d1f0c2a9b3e\r\n" + part + data + b"\r\n--7d1f0c2a9b3e--\r\n"
        response = http.post(
            f"{server.url}{url('upload', 'home/alice/')}",
            data=body,
            headers={
                "Content-Type": "multipart/form-data; boundary=7d1f0c2a9b3e",
                "Accept": "application/json",
                "X-CSRFToken": token,
                "Referer": server.url,
            },
            timeout=30,
        )
    finally:
        server.stop()
    assert response.status_code == 200, server.log()[-3000:]
    assert response.json()["message"] == "Uploaded 1 file: big.bin."
    assert (home / "big.bin").read_bytes() == data
    assert no_temporaries(home)
