"""Naming a teacher and ending the link, from both sides, with the bad input the issue lists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.access import may_act_on, owner_or_404
from config.errors import AppError
from education import selectors, services
from education.models import Teacher, TeacherAction, TeacherLink
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher():
    return UserFactory(username="tess")


@pytest.fixture
def student():
    return UserFactory(username="sam")


def test_a_student_names_a_teacher_and_the_link_is_live_at_once(student, teacher):
    link = services.teacher_nominate(student=student, username=" Tess ")
    assert link.teacher == teacher and link.is_current
    assert link.state == TeacherLink.State.GRANTING  # until the home's ACLs are set
    assert may_act_on(teacher, student)
    assert not may_act_on(student, teacher)


def test_naming_the_same_teacher_twice_keeps_one_link(student, teacher):
    first = services.teacher_nominate(student=student, username="tess")
    second = services.teacher_nominate(student=student, username="tess")
    assert first.pk == second.pk
    assert TeacherLink.objects.count() == 1


def test_a_new_teacher_replaces_the_old_one_whose_access_ends(student, teacher):
    services.teacher_nominate(student=student, username="tess")
    other = UserFactory(username="otto")
    services.teacher_nominate(student=student, username="otto")
    assert may_act_on(other, student)
    assert not may_act_on(teacher, student)
    ended = TeacherLink.objects.get(teacher=teacher)
    assert ended.ended_at is not None and ended.ended_by == "student"


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_teacher_is_refused(student, typed):
    with pytest.raises(AppError, match="Enter your teacher's username"):
        services.teacher_nominate(student=student, username=typed)


def test_you_cannot_be_your_own_teacher(student):
    with pytest.raises(AppError, match="cannot be your own teacher") as refused:
        services.teacher_nominate(student=student, username="SAM")
    assert refused.value.field == "teacher"
    assert not TeacherLink.objects.exists()


def test_a_teacher_who_does_not_exist_is_refused(student):
    with pytest.raises(AppError, match="There is no user called “nobody”"):
        services.teacher_nominate(student=student, username="nobody")
    assert not TeacherLink.objects.exists()


def test_an_inactive_account_cannot_be_named(student):
    UserFactory(username="gone", is_active=False)
    with pytest.raises(AppError, match="no user called"):
        services.teacher_nominate(student=student, username="gone")


def test_with_the_setting_only_approved_teachers_may_be_named(settings, student, teacher):
    settings.WARREN_EDUCATION_TEACHERS_APPROVED = True
    with pytest.raises(AppError, match="not a teacher here"):
        services.teacher_nominate(student=student, username="tess")
    Teacher.objects.create(user=teacher)
    assert services.teacher_nominate(student=student, username="tess").teacher == teacher


def test_the_student_removes_the_teacher(student, teacher):
    link = services.teacher_nominate(student=student, username="tess")
    services.teacher_remove(link=link, by=student)
    link.refresh_from_db()
    assert link.state == TeacherLink.State.ENDED and link.ended_by == "student"
    assert not may_act_on(teacher, student)
    assert selectors.current_teacher_link(student=student) is None


def test_the_teacher_removes_the_student(student, teacher):
    link = services.teacher_nominate(student=student, username="tess")
    services.teacher_remove(link=link, by=teacher)
    link.refresh_from_db()
    assert link.ended_by == "teacher"
    assert not may_act_on(teacher, student)
    # Removing again changes nothing.
    services.teacher_remove(link=link, by=student)
    link.refresh_from_db()
    assert link.ended_by == "teacher"


def test_a_chain_is_allowed_but_gives_no_transitive_access(student, teacher):
    head = UserFactory(username="hedda")
    services.teacher_nominate(student=student, username="tess")
    services.teacher_nominate(student=teacher, username="hedda")
    assert may_act_on(head, teacher)
    assert may_act_on(teacher, student)
    assert not may_act_on(head, student)
    with pytest.raises(Exception) as refused:
        owner_or_404(head, "sam")
    assert refused.typename == "Http404"


def test_outsiders_and_anonymous_visitors_may_act_on_nothing(student, teacher):
    from django.contrib.auth.models import AnonymousUser

    services.teacher_nominate(student=student, username="tess")
    outsider = UserFactory(username="mallory")
    assert not may_act_on(outsider, student)
    assert not may_act_on(AnonymousUser(), student)
    assert may_act_on(student, student)


def test_ten_thousand_students_are_paged(teacher):
    from accounts.models import Plan, User

    plan = Plan.objects.get(slug="beginner")
    User.objects.bulk_create(
        [User(username=f"s{number:05d}", plan=plan) for number in range(10_000)],
        batch_size=1000,
    )
    students = User.objects.filter(username__startswith="s0")
    TeacherLink.objects.bulk_create(
        [TeacherLink(student=student, teacher=teacher) for student in students], batch_size=1000
    )
    with CaptureQueriesContext(connection) as queries:
        page = selectors.students_page(teacher=teacher, page=3)
        names = [link.student.username for link in page.object_list]
    assert page.paginator.count == 10_000
    assert page.paginator.num_pages == 10_000 // selectors.STUDENTS_PER_PAGE
    assert names[0] == f"s{2 * selectors.STUDENTS_PER_PAGE:05d}"
    assert len(names) == selectors.STUDENTS_PER_PAGE
    assert len(queries) == 2  # the count and the page, whatever the class size
    # A page number past the end shows the last page, not an error.
    assert selectors.students_page(teacher=teacher, page="9999").number == page.paginator.num_pages
    assert selectors.students_page(teacher=teacher, page="x").number == 1


def test_actions_are_recorded_only_when_someone_else_acts(student, teacher):
    from accounts.access import access_record

    services.teacher_nominate(student=student, username="tess")
    access_record(actor=student, owner=student, action="opened", target="/home/sam/a.py")
    access_record(actor=teacher, owner=student, action="opened", target="/home/sam/a.py")
    actions = selectors.teacher_actions_for(student=student)
    assert [(a.teacher, a.action, a.target) for a in actions] == [
        (teacher, "opened", "/home/sam/a.py")
    ]
    assert TeacherAction.objects.count() == 1
