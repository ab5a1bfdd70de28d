"""Scheduled tasks, databases, students: the pages' rules through the API, owner and outsider."""

import pytest
from django.utils import timezone

from databases import services as database_services
from databases.models import Database
from education import services as education_services
from education.selectors import is_current_teacher_of
from schedules.models import ScheduledTask
from tests.api.conftest import ApiClient, token_for
from tests.factories import UserFactory, person

pytestmark = pytest.mark.django_db

DAILY = '{"command": "echo hi", "interval": "daily", "hour": 3, "minute": 15}'


# --- scheduled tasks --------------------------------------------------------------------------


def test_a_script_creates_lists_switches_and_deletes_a_task(alice_api, user, task_server):
    created = alice_api.post("schedule/", DAILY)
    assert created.status_code == 201, created.content
    task = created.json()
    assert (task["command"], task["hour"], task["minute"]) == ("echo hi", 3, 15)
    assert [t["id"] for t in alice_api.get("schedule/").json()] == [task["id"]]
    assert alice_api.post(f"schedule/{task['id']}/disable/").json()["enabled"] is False
    assert alice_api.post(f"schedule/{task['id']}/enable/").json()["enabled"] is True
    assert alice_api.delete(f"schedule/{task['id']}/").status_code == 200
    assert not ScheduledTask.objects.exists()


def test_the_tasks_tabs_rules_apply(alice_api, task_server):
    hourly = '{"command": "echo", "interval": "hourly", "minute": 5}'
    response = alice_api.post("schedule/", hourly)
    assert response.status_code == 400  # hourly tasks need a paid plan, as on the page
    assert "hourly" in response.json()["detail"].lower()
    two_lines = '{"command": "echo a\\necho b", "interval": "daily", "hour": 1, "minute": 1}'
    assert alice_api.post("schedule/", two_lines).status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "schedule/{id}/"),
        ("post", "schedule/{id}/enable/"),
        ("post", "schedule/{id}/disable/"),
        ("post", "schedule/{id}/run_now/"),
        ("delete", "schedule/{id}/"),
        ("get", "schedule/"),
        ("post", "schedule/"),
    ],
)
def test_an_outsider_gets_404_for_every_task_url(alice_api, mallory_api, task_server, method, path):
    task = alice_api.post("schedule/", DAILY).json()
    url = path.format(id=task["id"])
    body = [DAILY] if (method, path) == ("post", "schedule/") else []
    response = getattr(mallory_api, method)(url, *body)
    assert response.status_code == 404
    # Their own username in the URL does not reach alice's task either.
    assert mallory_api.as_("mallory").get(f"schedule/{task['id']}/").status_code == 404
    assert ScheduledTask.objects.get().enabled


def test_huge_task_ids_are_a_clean_400(alice_api):
    assert alice_api.get(f"schedule/{2**70}/").status_code == 400
    assert alice_api.get("schedule/0/").status_code == 400


# --- students (education) ---------------------------------------------------------------------


def test_a_teacher_lists_students_and_reaches_their_things(db, task_server):
    teacher, student = UserFactory(username="tess"), UserFactory(username="sam")
    education_services.teacher_nominate(student=student, username="tess")
    api = ApiClient(token_for(teacher), "tess")
    assert [s["username"] for s in api.get("students/").json()] == ["sam"]
    # Through accounts.access: the teacher may act on the student's tasks, as on the pages.
    created = api.as_("sam").post("schedule/", DAILY)
    assert created.status_code == 201
    assert ScheduledTask.objects.get().owner == student
    assert api.delete("students/sam/").status_code == 200
    assert not is_current_teacher_of(teacher=teacher, student=student)
    assert api.as_("sam").get("schedule/").status_code == 404


def test_students_are_the_teachers_own_only(db):
    teacher, student = UserFactory(username="tess"), UserFactory(username="sam")
    education_services.teacher_nominate(student=student, username="tess")
    # The student cannot list the teacher's students, nor end the link through the teacher's URL.
    student_api = ApiClient(token_for(student), "tess")
    assert student_api.get("students/").status_code == 404
    assert student_api.delete("students/sam/").status_code == 404
    assert ApiClient(token_for(teacher), "tess").delete("students/nobody/").status_code == 404
    assert is_current_teacher_of(teacher=teacher, student=student)


# --- databases --------------------------------------------------------------------------------


@pytest.mark.root
def test_a_script_creates_and_deletes_a_database(db, provisioned, db_servers, run_on_commit):
    owner = provisioned(person("alice"))
    with run_on_commit():
        database_services.database_password_set(user=owner, kind="mysql", password="s3cret-pass!")
    api = ApiClient(token_for(owner), "alice")
    with run_on_commit():
        created = api.post("databases/", '{"kind": "mysql", "name": "blog"}')
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "alice$blog"
    listed = api.get("databases/").json()
    assert [(d["name"], d["state"]) for d in listed] == [("alice$blog", "ready")]
    bad = api.post("databases/", '{"kind": "mysql", "name": "it\'s"}')
    assert bad.status_code == 400
    wrong = api.post(f"databases/{created.json()['id']}/delete/", '{"confirmation": "nope"}')
    assert wrong.status_code == 400
    outsider = ApiClient(token_for(provisioned(person("mallory"))), "alice")
    assert outsider.get("databases/").status_code == 404
    gone = outsider.post(f"databases/{created.json()['id']}/delete/", '{"confirmation": "blog"}')
    assert gone.status_code == 404
    assert (
        outsider.as_("mallory")
        .post(f"databases/{created.json()['id']}/delete/", '{"confirmation": "alice$blog"}')
        .status_code
        == 404
    )
    assert Database.objects.count() == 1


def test_cpu_usage_for_the_owner_and_404_for_an_outsider(alice_api, mallory_api):
    body = alice_api.get("cpu/").json()
    assert body["used_seconds"] == 0 and body["allowance_seconds"] > 0
    assert body["resets_at"] > timezone.now().isoformat()[:10]
    assert mallory_api.get("cpu/").status_code == 404
