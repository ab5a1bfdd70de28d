"""Beat's check of execution servers' agents (files.tasks.home_mounts_check_all): every home is
bound again on a server whose agent restarted, first seen, or not all bound there yet; nothing
is asked of one whose agent is the one that had them all bound."""

import pytest

from execution_agent.teardown import unmount_beneath
from files import mounts, tasks
from files.models import HomeMountsBound
from files.services import home_mounts_sync
from servers.models import Server
from tests.factories import UserFactory
from tests.files.fileservers import mover

pytestmark = [pytest.mark.root, pytest.mark.django_db]


class CountingClient:
    """The real client of one server's agent, noting each call made through it."""

    def __init__(self, client, server, calls):
        self.client, self.server, self.calls = client, server, calls

    def __getattr__(self, name):
        method = getattr(self.client, name)

        def call(**kwargs):
            self.calls.append((name, self.server.hostname))
            return method(**kwargs)

        return call


@pytest.fixture
def calls(monkeypatch):
    """(op, server hostname) of every call the files app makes to an execution agent."""
    made = []
    real = mounts.execution_agent
    monkeypatch.setattr(
        mounts, "execution_agent", lambda server: CountingClient(real(server), server, made)
    )
    return made


def binds(calls) -> list[str]:
    return [host for op, host in calls if op == "home_mount_set"]


def unmount(*targets):
    for target in targets:
        unmount_beneath(target)


def home_server() -> Server:
    """This machine's execution server (the registry's first, its roles merged)."""
    return mounts.home_servers()[0]


def test_a_server_seen_for_the_first_time_gets_every_home_bound(exec_agent, mounted, calls):
    mover(mounted, username="mover")
    unmount(exec_agent.homes / "mover")
    assert not (exec_agent.homes / "mover" / "thesis").exists()
    calls.clear()
    tasks.home_mounts_check_all()
    assert (exec_agent.homes / "mover" / "thesis" / "chapter1.md").exists()
    assert binds(calls) == ["127.0.0.1"]
    info = exec_agent.client().info()
    recorded = HomeMountsBound.objects.get(server=home_server())
    assert (recorded.boot_id, recorded.agent_started) == (info["boot_id"], info["agent_started"])


def test_with_the_same_agent_up_nothing_is_bound_again(exec_agent, mounted, calls):
    mover(mounted, username="mover")
    tasks.home_mounts_check_all()
    calls.clear()
    tasks.home_mounts_check_all()
    tasks.home_mounts_check_all()
    assert calls == [("info", "127.0.0.1"), ("info", "127.0.0.1")]


def test_after_the_agent_restarts_the_home_and_web_directory_are_bound_again(
    exec_agent, mounted_www, calls
):
    mover(mounted_www, username="mover")
    tasks.home_mounts_check_all()
    before = HomeMountsBound.objects.get(server=home_server()).agent_started
    # Its binds gone behind Django's back, as with a reboot, and the agent started again.
    unmount(exec_agent.homes / "mover", exec_agent.www / "mover")
    exec_agent.stop()
    exec_agent.start()
    assert not (exec_agent.www / "mover" / "wsgi.py").exists()
    calls.clear()
    tasks.home_mounts_check_all()
    assert (exec_agent.homes / "mover" / "thesis" / "chapter1.md").exists()
    assert (exec_agent.www / "mover" / "wsgi.py").exists()
    assert binds(calls) == ["127.0.0.1"]
    after = HomeMountsBound.objects.get(server=home_server()).agent_started
    assert after != before and after == exec_agent.client().info()["agent_started"]


def test_an_unreachable_server_is_skipped_and_bound_once_it_answers(exec_agent, mounted, calls):
    mover(mounted, username="mover")
    # Another execution server whose agent does not answer (its machine is down).
    down = Server.objects.create(
        kind=Server.Kind.TASK, hostname="localhost", execution_agent_socket="/nonexistent.sock"
    )
    calls.clear()
    tasks.home_mounts_check_all()  # no exception out of the task
    assert ("info", "localhost") in calls and "localhost" not in binds(calls)
    assert not HomeMountsBound.objects.filter(server=down).exists()
    assert HomeMountsBound.objects.filter(server=home_server()).exists()
    # It comes back: it is bound then, and recorded; the other is left alone.
    Server.objects.filter(pk=down.pk).update(execution_agent_socket=str(exec_agent.socket_path))
    calls.clear()
    tasks.home_mounts_check_all()
    assert binds(calls) == ["localhost"]
    assert HomeMountsBound.objects.filter(server=down).exists()


def test_a_failed_bind_is_not_recorded_and_is_tried_again(exec_agent, mounted, calls):
    mover(mounted, username="mover")
    # A user on a file server WARREN_FILESERVER_MOUNTS does not name: their bind fails.
    elsewhere = Server.objects.create(kind=Server.Kind.FILE, hostname="fs-unmounted")
    stray = UserFactory(username="stray", file_server=elsewhere)
    tasks.home_mounts_check_all()
    assert not HomeMountsBound.objects.exists()
    calls.clear()
    tasks.home_mounts_check_all()  # tried again, every home (the stray's refused before a call)
    assert binds(calls) == ["127.0.0.1"]
    stray.delete()
    tasks.home_mounts_check_all()
    assert HomeMountsBound.objects.filter(server=home_server()).exists()


def test_a_failed_bind_elsewhere_forgets_that_every_home_was_bound(exec_agent, mounted, calls):
    alice, _ = mover(mounted, username="mover")
    tasks.home_mounts_check_all()
    unmount(exec_agent.homes / "mover")
    # The agent is away for a moment (its socket unreachable): a user's bind there fails.
    servers = Server.objects.filter(kind__in=mounts.HOME_KINDS)
    servers.update(execution_agent_socket="/nonexistent.sock")
    assert home_mounts_sync(user=alice)
    assert not HomeMountsBound.objects.exists()
    servers.update(execution_agent_socket=str(exec_agent.socket_path))
    tasks.home_mounts_check_all()  # the same agent answers, and binds every home again
    assert (exec_agent.homes / "mover" / "thesis" / "chapter1.md").exists()


def test_without_file_server_mounts_the_check_does_nothing(exec_agent, local_servers, calls):
    assert not mounts.configured()
    tasks.home_mounts_check_all()
    tasks.home_mounts_check(home_server().pk)
    assert calls == [] and not HomeMountsBound.objects.exists()


def test_beat_checks_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["files-home-mounts-check"]
    assert entry == {"task": "files.tasks.home_mounts_check_all", "schedule": 60.0}
