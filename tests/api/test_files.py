"""Files through the API, on the real execution agent: read, write, delete, tree, traversal."""

import pytest

from tests.api.conftest import ApiClient, token_for
from tests.factories import person
from tests.files.conftest import put

pytestmark = pytest.mark.root


@pytest.fixture
def alice(db, provisioned):
    return provisioned(person("alice"))


@pytest.fixture
def mallory(db, provisioned):
    return provisioned(person("mallory"))


@pytest.fixture
def api(alice):
    return ApiClient(token_for(alice), "alice")


def write(api, path: str, data: bytes):
    return api.post(f"files/path{path}", data, content_type="application/octet-stream")


def test_a_script_writes_reads_lists_and_deletes_a_file(api, alice, exec_agent):
    # As in the editor, the folder must exist.
    assert write(api, "/home/alice/site/app.py", b"print('hi')\n").status_code == 404
    put(exec_agent.homes / "alice" / "site" / "README", "", alice)
    written = write(api, "/home/alice/site/app.py", b"print('hi')\n")
    assert written.status_code == 200, written.content
    on_disk = exec_agent.homes / "alice" / "site" / "app.py"
    assert on_disk.read_bytes() == b"print('hi')\n" and on_disk.stat().st_uid == alice.uid

    read = api.get("files/path/home/alice/site/app.py")
    assert read.status_code == 200
    assert read["Content-Type"] == "application/octet-stream"
    assert b"".join(read.streaming_content) == b"print('hi')\n"

    tree = api.get("files/tree/?path=/home/alice/site").json()
    assert tree == {
        "path": "/home/alice/site",
        "entries": ["/home/alice/site/README", "/home/alice/site/app.py"],
        "truncated": False,
    }
    assert "/home/alice/site/" in api.get("files/tree/").json()["entries"]

    assert api.delete("files/path/home/alice/site/app.py").status_code == 200
    assert not on_disk.exists()
    assert api.get("files/path/home/alice/site/app.py").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "files/path/home/alice/../mallory/secret.txt",
        "files/path/home/alice/%2e%2e/mallory/secret.txt",
        "files/path/home/mallory/secret.txt",
        "files/path/etc/passwd",
        "files/tree/?path=/home/alice/../mallory",
        "files/tree/?path=/etc",
    ],
)
def test_traversal_out_of_the_home_is_refused(api, mallory, exec_agent, path):
    (exec_agent.homes / "mallory" / "secret.txt").write_text("mallory's")
    response = api.get(path)
    assert response.status_code in (400, 404), response.content
    assert b"mallory's" not in response.content
    assert set(response.json()) == {"error", "detail"}


def test_a_link_out_of_the_home_is_refused_by_the_agent(api, alice, mallory, exec_agent):
    (exec_agent.homes / "mallory" / "secret.txt").write_text("mallory's")
    (exec_agent.homes / "alice" / "link").symlink_to(exec_agent.homes / "mallory" / "secret.txt")
    response = api.get("files/path/home/alice/link")
    assert response.status_code in (403, 404)
    assert b"mallory's" not in response.content


def test_an_outsider_gets_404_for_the_owners_files(alice, mallory, exec_agent):
    (exec_agent.homes / "alice" / "notes.txt").write_text("alice's")
    outsider = ApiClient(token_for(mallory), "alice")
    assert outsider.get("files/path/home/alice/notes.txt").status_code == 404
    assert outsider.get("files/tree/").status_code == 404
    assert outsider.delete("files/path/home/alice/notes.txt").status_code == 404
    written = write(outsider, "/home/alice/notes.txt", b"mallory was here")
    assert written.status_code == 404
    assert (exec_agent.homes / "alice" / "notes.txt").read_text() == "alice's"


def test_binary_content_is_written_byte_for_byte_and_read_back(api, exec_agent):
    blob = bytes(range(256)) * 40
    assert write(api, "/home/alice/blob.bin", blob).status_code == 200
    assert (exec_agent.homes / "alice" / "blob.bin").read_bytes() == blob
    assert b"".join(api.get("files/path/home/alice/blob.bin").streaming_content) == blob
    assert [p.name for p in (exec_agent.homes / "alice").iterdir() if ".warren-" in p.name] == []


def test_writing_over_a_folder_is_refused_and_changes_nothing(api, alice, exec_agent):
    put(exec_agent.homes / "alice" / "site" / "app.py", "x", alice)
    response = write(api, "/home/alice/site", b"flat")
    assert response.status_code == 400
    assert (exec_agent.homes / "alice" / "site" / "app.py").read_text() == "x"


def test_the_home_itself_cannot_be_deleted(api, exec_agent):
    assert api.delete("files/path/home/alice").status_code == 403
    assert (exec_agent.homes / "alice").is_dir()


def test_a_teacher_writes_into_a_students_home_as_the_student_and_it_is_recorded(
    alice, mallory, exec_agent
):
    from education import services as education_services
    from education.models import TeacherAction

    education_services.teacher_nominate(student=mallory, username="alice")
    teacher = ApiClient(token_for(alice), "mallory")
    written = write(teacher, "/home/mallory/feedback.txt", b"good work\n")
    assert written.status_code == 200, written.content
    saved = exec_agent.homes / "mallory" / "feedback.txt"
    assert saved.read_text() == "good work\n" and saved.stat().st_uid == mallory.uid
    assert TeacherAction.objects.filter(teacher=alice, student=mallory, action="saved").exists()
    # The student's token gives nothing of the teacher's.
    student = ApiClient(token_for(mallory), "alice")
    assert student.get("files/tree/").status_code == 404
