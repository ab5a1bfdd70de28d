"""The student's side (sign-up field, Account tab) and the teacher's (Education tab), and the
one policy at every owner-only URL: the owner and their teacher get in, outsiders get 404."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from consoles.models import Console
from consoles.selectors import console_access
from education import services
from education.models import TeacherAction, TeacherLink
from tests.accounts.test_signup_and_login import fresh_rate_limits, sign_up  # noqa: F401
from tests.factories import UserFactory
from webapps.models import WebApp

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def teacher():
    return UserFactory(username="tess")


@pytest.fixture
def student(teacher):
    student = UserFactory(username="sam")
    services.teacher_nominate(student=student, username="tess")
    return student


@pytest.fixture
def outsider():
    return UserFactory(username="mallory")


# --- sign-up and the Account tab -----------------------------------------------------------


def test_signing_up_with_a_teacher_links_the_new_student(client, teacher):
    response = sign_up(client, teacher="tess")
    assert response.status_code == 302
    link = TeacherLink.objects.get(student__username="newbie")
    assert link.teacher == teacher and link.is_current


def test_signing_up_without_a_teacher_is_as_before(client):
    assert sign_up(client).status_code == 302
    assert not TeacherLink.objects.exists()


@pytest.mark.parametrize(
    ("typed", "message"),
    [("nobody", "There is no user called"), ("newbie", "cannot be your own teacher")],
)
def test_sign_up_refuses_a_bad_teacher_and_makes_no_account(client, typed, message):
    response = sign_up(client, teacher=typed)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()


def test_the_sign_up_page_has_the_teacher_field(client):
    page = client.get(reverse("account_signup")).content.decode()
    assert 'name="teacher"' in page and "Teacher (optional)" in page


def test_the_account_tab_names_the_teacher_and_what_they_can_do(student):
    page = logged_in(student).get(reverse("account")).content.decode()
    assert 'Your teacher is <strong class="teacher-name">tess</strong>' in page
    assert "What a teacher can see and do" in page
    assert "watch and type into your consoles" in page
    assert "Remove tess as my teacher" in page


def test_a_student_sets_a_teacher_on_the_account_tab(teacher):
    student = UserFactory(username="sam")
    response = logged_in(student).post(reverse("education:teacher_nominate"), {"teacher": "tess"})
    assert response.status_code == 302
    assert TeacherLink.objects.get(student=student).teacher == teacher


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "Enter your teacher"), ("sam", "cannot be your own teacher"), ("zz", "no user called")],
)
def test_the_account_tab_refuses_bad_teachers_with_a_message(typed, message):
    student = UserFactory(username="sam")
    client = logged_in(student)
    response = client.post(reverse("education:teacher_nominate"), {"teacher": typed}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TeacherLink.objects.exists()


def test_the_student_removes_their_teacher_from_the_account_tab(student, teacher):
    client = logged_in(student)
    response = client.post(reverse("education:teacher_remove"), follow=True)
    assert "tess is no longer your teacher" in response.content.decode()
    assert not TeacherLink.objects.filter(ended_at__isnull=True).exists()
    assert client.post(reverse("education:teacher_remove")).status_code == 302


def test_the_account_tab_lists_what_the_teacher_did(student, teacher):
    TeacherAction.objects.create(
        student=student, teacher=teacher, action="opened", target="/home/sam/main.py"
    )
    page = logged_in(student).get(reverse("account")).content.decode()
    assert "<strong>tess</strong> opened <code>/home/sam/main.py</code>" in page


# --- the Education tab ----------------------------------------------------------------------


def test_the_education_tab_appears_for_teachers_only(student, teacher, outsider):
    def tabs(user):
        response = logged_in(user).get(reverse("dashboard"))
        return [tab["label"] for tab in response.context["tabs"]]

    assert "Education" in tabs(teacher)
    assert "Education" not in tabs(student)
    assert "Education" not in tabs(outsider)


def test_the_education_tab_lists_students_with_their_figures(student, teacher):
    Console.objects.create(owner=student, kind="bash", title="Bash", argv=["bash"], cwd="/")
    WebApp.objects.create(
        user=student,
        domain="sam.example.com",
        framework="flask",
        python_version="3.11",
        working_dir="/home/sam",
    )
    response = logged_in(teacher).get(reverse("education:index"))
    assert response.status_code == 200
    [row] = response.context["rows"]
    assert row.student == student
    assert (row.consoles_running, row.web_apps) == (1, 1)
    page = response.content.decode()
    assert 'href="/files/browse/home/sam/"' in page
    assert 'href="/servers/processes/of/sam/"' in page


def test_the_student_page_links_each_console_and_web_app(student, teacher):
    console = Console.objects.create(
        owner=student, kind="bash", title="Bash", argv=["bash"], cwd="/"
    )
    # The student's own address: Force HTTPS on a custom domain waits for its certificate.
    domain = f"sam.{settings.WARREN_WEBAPPS_DOMAIN}"
    webapp = WebApp.objects.create(
        user=student,
        domain=domain,
        framework="flask",
        python_version="3.11",
        working_dir="/home/sam",
    )
    page = logged_in(teacher).get(reverse("education:student", args=["sam"])).content.decode()
    assert console.get_absolute_url() in page
    assert reverse("webapps:detail", args=[webapp.pk]) in page


def test_the_teacher_removes_a_student(student, teacher):
    client = logged_in(teacher)
    response = client.post(reverse("education:student_remove", args=["sam"]))
    assert response.status_code == 302
    assert TeacherLink.objects.get(student=student).ended_by == "teacher"
    assert client.get(reverse("education:student", args=["sam"])).status_code == 404


@pytest.mark.parametrize("name", ["education:student", "education:student_remove"])
def test_student_urls_are_404_for_outsiders_students_and_unknown_names(
    student, teacher, outsider, name
):
    method = "post" if name.endswith("remove") else "get"
    for user, username in [(outsider, "sam"), (student, "sam"), (teacher, "nobody")]:
        response = getattr(logged_in(user), method)(reverse(name, args=[username]))
        assert response.status_code == 404
    assert TeacherLink.objects.get(student=student).is_current


def test_the_education_tab_pages_a_big_class(teacher, django_assert_max_num_queries):
    from accounts.models import Plan

    plan = Plan.objects.get(slug="beginner")
    User.objects.bulk_create([User(username=f"s{n:04d}", plan=plan) for n in range(120)])
    TeacherLink.objects.bulk_create(
        [
            TeacherLink(student=s, teacher=teacher)
            for s in User.objects.filter(username__startswith="s0")
        ]
    )
    client = logged_in(teacher)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("education:index") + "?page=3")
    assert len(response.context["rows"]) == 20
    assert "Page 3 of 3" in response.content.decode()


# --- the one policy at the other apps' owner-only URLs -----------------------------------------


def test_the_teacher_attaches_read_write_to_a_student_console_and_it_is_recorded(
    student, teacher, outsider
):
    console = Console.objects.create(
        owner=student, kind="bash", title="Bash", argv=["bash"], cwd="/"
    )
    access = console_access(teacher, console.pk)
    assert access is not None and not access.read_only and access.as_teacher
    assert console_access(outsider, console.pk) is None
    response = logged_in(teacher).get(console.get_absolute_url())
    assert response.status_code == 200
    assert TeacherAction.objects.get(student=student).action == "opened the console"
    assert logged_in(outsider).get(console.get_absolute_url()).status_code == 404
    # Kill and restart stay the owner's.
    assert logged_in(teacher).post(reverse("consoles:kill", args=[console.pk])).status_code == 404


def test_console_access_ends_with_the_link(student, teacher):
    console = Console.objects.create(
        owner=student, kind="bash", title="Bash", argv=["bash"], cwd="/"
    )
    services.teacher_remove(link=TeacherLink.objects.get(student=student), by=student)
    assert console_access(teacher, console.pk) is None
    assert logged_in(teacher).get(console.get_absolute_url()).status_code == 404


def test_the_teacher_opens_and_changes_a_student_web_app_but_cannot_delete_it(
    student, teacher, outsider
):
    # The student's own address: Force HTTPS on a custom domain waits for its certificate.
    domain = f"sam.{settings.WARREN_WEBAPPS_DOMAIN}"
    webapp = WebApp.objects.create(
        user=student,
        domain=domain,
        framework="flask",
        python_version="3.11",
        working_dir="/home/sam",
    )
    client = logged_in(teacher)
    assert client.get(reverse("webapps:detail", args=[webapp.pk])).status_code == 200
    response = client.post(reverse("webapps:force_https", args=[webapp.pk]), {"force_https": "on"})
    assert response.status_code == 302
    webapp.refresh_from_db()
    assert webapp.force_https
    assert client.post(reverse("webapps:delete", args=[webapp.pk])).status_code == 404
    assert WebApp.objects.filter(pk=webapp.pk).exists()
    actions = list(TeacherAction.objects.order_by("pk").values_list("action", "target"))
    assert actions == [
        ("opened the web app", domain),
        ("changed HTTPS of", domain),
    ]
    for name, args in [
        ("webapps:detail", [webapp.pk]),
        ("webapps:log", [webapp.pk, "error"]),
        ("webapps:setting", [webapp.pk, "workers"]),
    ]:
        assert logged_in(outsider).get(reverse(name, args=args)).status_code == 404
    assert logged_in(outsider).post(reverse("webapps:reload", args=[webapp.pk])).status_code == 404


def test_the_teacher_sees_the_student_processes_page_and_outsiders_get_404(
    student, teacher, outsider
):
    url = reverse("servers:processes_of", args=["sam"])
    response = logged_in(teacher).get(url)
    assert response.status_code == 200
    assert "Processes of sam" in response.content.decode()
    assert logged_in(outsider).get(url).status_code == 404
    assert logged_in(student).get(reverse("servers:processes_of", args=["tess"])).status_code == 404
    kill = reverse("servers:process_kill_of", args=["sam", 1, 1])
    assert logged_in(outsider).post(kill).status_code == 404


# --- share with all my students ------------------------------------------------------------


def test_share_with_all_students_reaches_the_class_read_only_and_revokes_for_all(
    student, teacher, outsider
):
    console = Console.objects.create(
        owner=teacher, kind="bash", title="Demo", argv=["bash"], cwd="/"
    )
    client = logged_in(teacher)
    page = client.get(console.get_absolute_url()).content.decode()
    assert "Share with all my students" in page
    assert client.post(reverse("education:console_share", args=[console.pk])).status_code == 302
    access = console_access(student, console.pk)
    assert access is not None and access.read_only and not access.is_owner
    assert console_access(outsider, console.pk) is None
    listing = logged_in(student).get(reverse("consoles:index")).content.decode()
    assert "from your teacher <strong>tess</strong>" in listing and "Demo" in listing
    # A student who joins later sees it too; one who leaves does not.
    late = UserFactory(username="lena")
    services.teacher_nominate(student=late, username="tess")
    assert console_access(late, console.pk).read_only
    services.teacher_remove(link=TeacherLink.objects.get(student=late), by=late)
    assert console_access(late, console.pk) is None
    assert "Revoke for all students" in client.get(console.get_absolute_url()).content.decode()
    assert client.post(reverse("education:console_unshare", args=[console.pk])).status_code == 302
    assert console_access(student, console.pk) is None
    assert "Demo" not in logged_in(student).get(reverse("consoles:index")).content.decode()


def test_only_the_owner_shares_a_console_with_their_class(student, teacher, outsider):
    console = Console.objects.create(
        owner=student, kind="bash", title="Mine", argv=["bash"], cwd="/"
    )
    for user in (teacher, outsider):
        for name in ("education:console_share", "education:console_unshare"):
            assert logged_in(user).post(reverse(name, args=[console.pk])).status_code == 404
    assert (
        logged_in(teacher).post(reverse("education:console_share", args=["x" * 90])).status_code
        == 404
    )


# --- the classroom view ---------------------------------------------------------------------


def test_the_classroom_lists_running_student_consoles_capped_with_a_message(
    settings, teacher, outsider
):
    settings.WARREN_EDUCATION_CLASSROOM_MAX = 2
    for name in ("ann", "bob", "cid"):
        student = UserFactory(username=name)
        services.teacher_nominate(student=student, username="tess")
        Console.objects.create(owner=student, kind="bash", title="Bash", argv=["bash"], cwd="/")
    Console.objects.create(owner=outsider, kind="bash", title="Other", argv=["bash"], cwd="/")
    response = logged_in(teacher).get(reverse("education:classroom"))
    assert response.status_code == 200
    assert [cell["owner"] for cell in response.context["cells"]] == ["ann", "bob"]
    page = response.content.decode()
    assert "Showing 2 of 3 running consoles" in page
    assert all(cell["ws_path"].startswith("/ws/consoles/") for cell in response.context["cells"])
    assert TeacherAction.objects.filter(action="watched the console").count() == 2
    # Someone with no students sees an empty classroom, never anyone's consoles.
    empty = logged_in(outsider).get(reverse("education:classroom"))
    assert empty.context["cells"] == [] and "Other" not in empty.content.decode()
