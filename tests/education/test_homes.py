"""Students' homes in the teacher's consoles, on the real agents with real ACLs: the teacher's
console lists and writes /home/<student> while the link lasts and cannot after it ends; a
student never sees the teacher's home nor another student's."""

import time

import pytest

from consoles import tmux
from consoles.models import Console
from education import services
from education.models import TeacherLink
from servers.models import Server
from tests.factories import person

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def link_now(django_capture_on_commit_callbacks):
    """Run a service's on-commit work (the ACL task, eagerly) the way a request would."""

    def run(call, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(**kwargs)

    return run


@pytest.fixture
def people(provisioned, link_now):
    teacher = provisioned(person("tess"))
    sam = provisioned(person("sam"))
    sue = provisioned(person("sue"))
    for student in (sam, sue):
        link_now(services.teacher_nominate, student=student, username="tess")
    return teacher, sam, sue


def run_console(user, script: str) -> Console:
    """A console of ``user`` running ``script`` in bash, started through the adapter."""
    console = Console.objects.create(
        owner=user,
        kind="custom",
        title="test",
        argv=["bash", "-c", script],
        cwd=f"/home/{user.username}",
        server=Server.objects.filter(kind=Server.Kind.CONSOLE).first(),
    )
    tmux.start(console)
    return console


def wait_for(path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("END\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never finished")


def test_the_links_end_granting(people):
    _teacher, _sam, _sue = people
    assert set(TeacherLink.objects.values_list("state", flat=True)) == {"active"}


def test_the_teacher_console_lists_and_writes_student_homes_until_the_link_ends(
    people, exec_agent, link_now
):
    teacher, sam, _sue = people
    homes = exec_agent.homes
    (homes / "sam" / "homework.py").write_text("print(1)\n")
    run_console(
        teacher,
        "{ ls /home; echo ---; ls /home/sam; echo hi > /home/sam/from-teacher.txt && echo wrote;"
        " echo END; } > /home/tess/out.txt 2>&1",
    )
    out = wait_for(homes / "tess" / "out.txt")
    listed, rest = out.split("---\n")
    assert sorted(listed.split()) == ["sam", "sue", "tess"]
    assert "homework.py" in rest and "wrote" in rest
    assert (homes / "sam" / "from-teacher.txt").read_text() == "hi\n"

    # A console kept running holds the server (and its binds); ending the link still takes
    # the access away at once, through the ACLs.
    keeper = run_console(teacher, "sleep 300")
    link_now(services.teacher_remove, link=TeacherLink.objects.get(student=sam), by=sam)
    run_console(
        teacher,
        "{ ls /home/sam && echo LISTED; echo x > /home/sam/again.txt && echo WROTE; echo END; }"
        " > /home/tess/after.txt 2>&1",
    )
    after = wait_for(homes / "tess" / "after.txt")
    assert "LISTED" not in after and "WROTE" not in after
    assert "Permission denied" in after
    assert not (homes / "sam" / "again.txt").exists()

    # Once nothing runs in it, the next console starts a server without sam's home.
    tmux.kill(keeper)
    run_console(teacher, "{ ls /home; echo END; } > /home/tess/later.txt 2>&1")
    assert sorted(wait_for(homes / "tess" / "later.txt").split()[:-1]) == ["sue", "tess"]


def test_a_student_never_sees_the_teacher_home_nor_another_student(people, exec_agent):
    _teacher, sam, _sue = people
    run_console(
        sam,
        "{ ls /home; cat /home/tess/.bashrc && echo READ; ls /home/sue && echo SUE; echo END; }"
        " > /home/sam/seen.txt 2>&1",
    )
    seen = wait_for(exec_agent.homes / "sam" / "seen.txt")
    assert seen.split("\n")[0] == "sam"
    assert "READ" not in seen and "SUE" not in seen


def test_a_link_ended_while_granting_leaves_no_access_behind(provisioned, exec_agent):
    import subprocess

    from education.tasks import home_access_sync
    from files import fileserver

    teacher = provisioned(person("tess"))
    student = provisioned(person("sam"))
    # The grant is on its way (the task has not run) when the student removes the teacher;
    # the agent had already been reached, as a grant mid-walk would have.
    link = services.teacher_nominate(student=student, username="tess")
    assert link.state == TeacherLink.State.GRANTING
    fileserver.home_acl(student, grantee_uid=teacher.uid, grant=True)
    services.teacher_remove(link=link, by=student)
    home_access_sync.delay(student.pk, teacher.pk)  # the grant task, arriving late
    acl = subprocess.run(
        ["getfacl", "-n", "-p", str(exec_agent.homes / "sam")], capture_output=True, text=True
    ).stdout
    assert f":{teacher.uid}:" not in acl
    link.refresh_from_db()
    assert link.state == TeacherLink.State.ENDED
