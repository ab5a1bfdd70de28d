"""A teacher on a student's console websocket, through the real ASGI stack, agent and tmux:
read-write live from the console page, read-only from the classroom (?watch=1), and
disconnected once the link ends."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from consoles import services as console_services
from consoles.models import Console
from consoles.selectors import console_access
from education import services
from education.models import TeacherLink
from tests.consoles.conftest import open_terminal, screen_of  # noqa: F401
from tests.factories import person

pytestmark = [
    pytest.mark.root,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PROMPT = b"$ "


@pytest.fixture
def people(provisioned):
    teacher = provisioned(person("tess"))
    student = provisioned(person("sam"))
    services.teacher_nominate(student=student, username="tess")
    return teacher, student


@pytest.fixture
def bash(people):
    return console_services.console_start(owner=people[1], kind=Console.Kind.BASH)


async def test_the_teacher_types_into_a_student_console(bash, people, open_terminal):  # noqa: F811
    teacher, _student = people
    theirs = await open_terminal(bash.pk, teacher)
    await theirs.until(PROMPT)
    await theirs.run("echo teacher-$((5*5))", b"teacher-25")


async def test_watching_from_the_classroom_is_read_only(bash, people, open_terminal):  # noqa: F811
    teacher, student = people
    mine = await open_terminal(bash.pk, student)
    await mine.until(PROMPT)
    watching = await open_terminal(bash.pk, teacher, query="watch=1&rows=12&cols=64")
    await watching.type("echo watcher-typed-$((2+2))\r")
    await mine.run("echo student-typed-$((1+1))", b"student-typed-2")
    await watching.until(b"student-typed-2")
    await asyncio.sleep(0.3)
    screen = await database_sync_to_async(screen_of)(bash)
    assert "watcher-typed-4" not in screen
    # The watch stays open past the periodic re-check (it is not an access change).
    await asyncio.sleep(1.5)
    assert watching.closed is None


async def test_ending_the_link_disconnects_the_teacher(bash, people, open_terminal, settings):  # noqa: F811
    settings.WARREN_CONSOLE_ACCESS_RECHECK_SECONDS = 1
    teacher, student = people
    theirs = await open_terminal(bash.pk, teacher)
    await theirs.until(PROMPT)

    def end():
        link = TeacherLink.objects.get(student=student)
        services.teacher_remove(link=link, by=student)

    await database_sync_to_async(end)()
    closed = await theirs.closed_within(5)
    assert closed["code"] == 4403
    assert await database_sync_to_async(console_access)(teacher, bash.pk) is None
