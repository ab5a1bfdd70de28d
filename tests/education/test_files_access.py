"""A teacher in a student's Files tab, on the real agents: what they save is the student's."""

import os

import pytest
from django.test import Client
from django.urls import reverse

from education import services
from education.models import TeacherAction, TeacherLink
from files.selectors import storage_usage
from tests.factories import person

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def teacher(provisioned):
    return provisioned(person("tess"))


@pytest.fixture
def student(provisioned, teacher):
    student = provisioned(person("sam"))
    services.teacher_nominate(student=student, username="tess")
    return student


@pytest.fixture
def outsider(provisioned):
    return provisioned(person("mallory"))


def test_a_teacher_opens_edits_and_saves_a_student_file_which_stays_the_students(
    exec_agent, student, teacher
):
    main = exec_agent.homes / "sam" / "main.py"
    main.write_text("print('hello')\n")
    os.chown(main, student.uid, student.uid)
    client = logged_in(teacher)
    listing = client.get(reverse("files:browse", args=["home/sam/"]))
    assert listing.status_code == 200
    assert 'href="/files/edit/home/sam/main.py"' in listing.content.decode()
    editor = client.get(reverse("files:edit", args=["home/sam/main.py"]))
    assert editor.status_code == 200
    assert "print('hello')" in editor.content.decode()
    before = storage_usage(user=student).used_bytes
    text = "print('fixed by your teacher')\n" + "#" * 100_000
    saved = client.post(
        reverse("files:edit", args=["home/sam/main.py"]),
        data=text.encode(),
        content_type="text/plain",
    )
    assert saved.status_code == 200, saved.content
    assert main.read_text() == text
    assert main.stat().st_uid == student.uid
    assert storage_usage(user=student).used_bytes >= before + 90_000
    created = client.post(
        reverse("files:create", args=["home/sam/"]), {"kind": "file", "name": "hint.txt"}
    )
    assert created.status_code == 302
    assert (exec_agent.homes / "sam" / "hint.txt").stat().st_uid == student.uid
    actions = list(
        TeacherAction.objects.filter(student=student).order_by("pk").values_list("action", "target")
    )
    assert actions == [
        ("opened the folder", "/home/sam"),
        ("opened", "/home/sam/main.py"),
        ("saved", "/home/sam/main.py"),
        ("created", "/home/sam/hint.txt"),
    ]


def test_outsiders_students_and_former_teachers_get_404_in_someone_elses_files(
    exec_agent, student, teacher, outsider
):
    (exec_agent.homes / "sam" / "notes.txt").write_text("private")
    urls = [
        reverse("files:browse", args=["home/sam/"]),
        reverse("files:edit", args=["home/sam/notes.txt"]),
        reverse("files:download", args=["home/sam/notes.txt"]),
        reverse("files:rename", args=["home/sam/notes.txt"]),
        reverse("files:delete", args=["home/sam/notes.txt"]),
    ]
    for url in urls:
        assert logged_in(outsider).get(url).status_code == 404, url
    # The student never reaches the teacher's home.
    assert logged_in(student).get(reverse("files:browse", args=["home/tess/"])).status_code == 404
    for name in ("files:delete", "files:rename"):
        url = reverse(name, args=["home/sam/notes.txt"])
        assert logged_in(outsider).post(url, {"name": "x"}).status_code == 404
    assert (exec_agent.homes / "sam" / "notes.txt").read_text() == "private"
    services.teacher_remove(link=TeacherLink.objects.get(student=student), by=student)
    for url in urls:
        assert logged_in(teacher).get(url).status_code == 404, url


def test_a_chain_gives_the_teachers_teacher_nothing(exec_agent, student, teacher, provisioned):
    head = provisioned(person("hedda"))
    services.teacher_nominate(student=teacher, username="hedda")
    client = logged_in(head)
    assert client.get(reverse("files:browse", args=["home/tess/"])).status_code == 200
    assert client.get(reverse("files:browse", args=["home/sam/"])).status_code == 404


def test_a_teacher_lists_and_kills_a_student_process_and_outsiders_cannot(
    student, teacher, outsider
):
    from servers.selectors import execution_servers
    from tests.agents import process_running
    from tests.servers.test_processes import start_sleep, wait_until

    pid = start_sleep(student)
    server = execution_servers()[0]
    page = logged_in(teacher).get(reverse("servers:processes_of", args=["sam"]))
    assert pid in [row.pid for row in page.context["rows"]]
    kill = reverse("servers:process_kill_of", args=["sam", server.pk, pid])
    assert f'action="{kill}"' in page.content.decode()
    assert logged_in(outsider).post(kill).status_code == 404
    # The teacher's own kill URL names the teacher's processes: the student's pid is not one.
    own = reverse("servers:process_kill", args=[server.pk, pid])
    assert logged_in(teacher).post(own).status_code == 404
    assert process_running(pid)
    response = logged_in(teacher).post(kill)
    assert response.status_code == 302 and response["Location"].endswith("/processes/of/sam/")
    assert wait_until(lambda: not process_running(pid)), f"{pid} still running"
    assert TeacherAction.objects.filter(
        student=student, action="killed the process", target=str(pid)
    ).exists()
