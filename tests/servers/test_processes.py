"""The Processes page: alice lists and kills her sandboxed processes; mallory can do neither."""

import os
import time

import pytest
from django.conf import settings
from django.urls import reverse

from consoles.models import Console
from servers.agents import execution_agent, user_ref
from servers.models import Server
from servers.processes import KILL_GRACE_SECONDS
from servers.selectors import execution_servers
from tests.agents import process_running as running
from tests.factories import person

pytestmark = pytest.mark.root

PAGE = "/servers/processes/"


@pytest.fixture
def user(db, provisioned):
    return provisioned(person("alice"))


@pytest.fixture
def outsider(db, provisioned):
    return provisioned(person("mallory"))


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def start_sleep(user, seconds: int = 300, tag=None) -> int:
    """``sleep`` started through the sandbox, once the agent lists it (bwrap has exec'd it)."""
    agent = execution_agent()
    pid = agent.spawn(user=user_ref(user), argv=["sleep", str(seconds)], tag=tag)["pid"]
    listed = lambda: pid in [p["pid"] for p in agent.processes(user=user_ref(user))]  # noqa: E731
    assert wait_until(listed, 5), f"sleep {seconds} ({pid}) was never listed"
    return pid


def console_of(user, title="Bash") -> Console:
    return Console.objects.create(
        owner=user, kind="bash", title=title, argv=["bash"], cwd=f"/home/{user.username}"
    )


def kill_url(server_id: int, pid: int) -> str:
    return reverse("servers:process_kill", args=[server_id, pid])


def the_server() -> Server:
    (server,) = execution_servers()
    return server


def row_of(response, pid: int):
    return next(row for row in response.context["rows"] if row.pid == pid)


# --- listing -----------------------------------------------------------------------------------


def test_the_owner_sees_a_sleep_they_started_with_its_details(user, alice_client):
    console = console_of(user)
    before = time.time()
    pid = start_sleep(user, tag={"kind": "console", "id": console.pk})
    response = alice_client.get(PAGE)
    assert response.status_code == 200
    row = row_of(response, pid)
    assert row.command == "sleep 300"
    assert row.server_id == the_server().pk
    assert row.rss_bytes > 0 and row.cpu_seconds >= 0
    assert before - 2 <= row.started_at.timestamp() <= time.time() + 1
    html = response.content.decode()
    assert "sleep 300" in html
    assert f'<a href="/consoles/{console.pk}/">Console: Bash</a>' in html
    assert f'action="{kill_url(row.server_id, pid)}"' in html
    assert "csrfmiddlewaretoken" in html


def test_processes_are_listed_oldest_first(user, alice_client):
    first = start_sleep(user, 301)
    time.sleep(0.05)
    second = start_sleep(user, 302)
    pids = [row.pid for row in alice_client.get(PAGE).context["rows"]]
    assert pids.index(first) < pids.index(second)


def test_a_long_command_line_is_shortened_with_the_whole_of_it_in_a_title(user, alice_client):
    # GNU sleep adds up its arguments: a long but harmless command line.
    argv = ["sleep", "300", *["0.0000000001"] * 8]
    pid = execution_agent().spawn(user=user_ref(user), argv=argv)["pid"]
    assert wait_until(lambda: pid in [r.pid for r in alice_client.get(PAGE).context["rows"]])
    html = alice_client.get(PAGE).content.decode()
    full = " ".join(argv)
    assert f'title="{full}"' in html
    assert f">{full}<" not in html and "sleep 300 0.0000000001" in html and "…" in html


def test_the_outsider_does_not_see_the_owners_processes(user, outsider, outsider_client):
    pid = start_sleep(user)
    response = outsider_client.get(PAGE)
    assert response.status_code == 200
    assert pid not in [row.pid for row in response.context["rows"]]
    assert "sleep 300" not in response.content.decode()


def test_a_tag_claiming_the_outsiders_console_gets_no_link_to_it(user, outsider, alice_client):
    theirs = console_of(outsider, title="Secret project")
    pid = start_sleep(user, tag={"kind": "console", "id": theirs.pk})
    response = alice_client.get(PAGE)
    assert row_of(response, pid).label.text == "Console (ended)"
    html = response.content.decode()
    assert theirs.get_absolute_url() not in html and "Secret project" not in html


def test_the_page_takes_a_fixed_number_of_queries(
    user, alice_client, django_assert_max_num_queries
):
    consoles = [console_of(user, title=f"Console {n}") for n in range(3)]
    pids = [start_sleep(user, tag={"kind": "console", "id": c.pk}) for c in consoles]
    pids.append(start_sleep(user, tag={"kind": "task", "id": "nightly"}))
    # Session, user, execution servers, consoles' labels, whether to show the Education tab.
    with django_assert_max_num_queries(5):
        response = alice_client.get(PAGE)
    assert {row.pid for row in response.context["rows"]} >= set(pids)


def test_a_server_whose_agent_is_down_is_named_and_the_others_still_listed(
    user, alice_client, settings
):
    settings.WARREN_LOCAL_HOSTNAMES = [*settings.WARREN_LOCAL_HOSTNAMES, "tasks-2.example"]
    pid = start_sleep(user)
    Server.objects.create(
        kind=Server.Kind.TASK,
        hostname="tasks-2.example",
        execution_agent_socket="/nonexistent/warren-agent.sock",
    )
    response = alice_client.get(PAGE)
    assert response.status_code == 200
    assert pid in [row.pid for row in response.context["rows"]]
    assert "Could not reach task server tasks-2.example" in response.content.decode()


def test_another_machines_server_is_named_not_asked(user, alice_client):
    # The same socket path on that machine would be this machine's agent if opened here.
    pid = start_sleep(user)
    other = Server.objects.create(
        kind=Server.Kind.TASK,
        hostname="tasks-3.example",
        execution_agent_socket=str(settings.WARREN_EXEC_AGENT_SOCKET),
    )
    response = alice_client.get(PAGE)
    assert other.pk not in {row.server_id for row in response.context["rows"]}
    assert pid in {row.pid for row in response.context["rows"]}
    assert "Processes on task server tasks-3.example are not" in response.content.decode()
    kill = reverse("servers:process_kill", args=[other.pk, pid])
    assert alice_client.post(kill).status_code == 404


def test_the_page_says_so_when_nothing_is_running(user, alice_client):
    response = alice_client.get(PAGE)
    assert response.context["rows"] == []
    assert "No processes running" in response.content.decode()


def test_the_page_is_for_logged_in_users_only(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_consoles_tab_is_the_active_one(user, alice_client):
    response = alice_client.get(PAGE)
    assert [tab["label"] for tab in response.context["tabs"] if tab["active"]] == ["Consoles"]


def test_an_htmx_refresh_gets_just_the_table(user, alice_client):
    pid = start_sleep(user)
    response = alice_client.get(PAGE, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert f'data-pid="{pid}"' in html and "<header" not in html


# --- killing -----------------------------------------------------------------------------------


def test_the_owner_kills_a_process_and_it_ends(user, alice_client):
    pid = start_sleep(user)
    response = alice_client.post(kill_url(the_server().pk, pid), follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    messages = [str(message) for message in response.context["messages"]]
    assert messages == [
        f"Sent SIGTERM to {pid}; SIGKILL follows in {KILL_GRACE_SECONDS} s if it is still running."
    ]
    assert wait_until(lambda: not running(pid)), f"{pid} still running"
    assert pid not in [row.pid for row in alice_client.get(PAGE).context["rows"]]


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(user, alice_client):
    agent = execution_agent()
    pid = agent.spawn(user=user_ref(user), argv=["bash", "-c", "trap '' TERM; sleep 300"])["pid"]
    time.sleep(0.3)  # let bash install its trap
    assert alice_client.post(kill_url(the_server().pk, pid)).status_code == 302
    time.sleep(1)
    assert running(pid), "gone before the grace period"
    assert wait_until(lambda: not running(pid), KILL_GRACE_SECONDS + 5)


def test_the_outsider_cannot_kill_the_owners_process(user, outsider, outsider_client):
    pid = start_sleep(user)
    response = outsider_client.post(kill_url(the_server().pk, pid))
    assert response.status_code == 404
    time.sleep(0.3)
    assert running(pid)


def test_killing_a_process_of_nobody_of_theirs_is_404(user, alice_client):
    server_id = the_server().pk
    gone = start_sleep(user)
    execution_agent().signal(user=user_ref(user), pid=gone, signal="KILL")
    assert wait_until(lambda: not running(gone))
    for pid in (1, os.getpid(), gone, 2**22 + 1, 0):
        assert alice_client.post(kill_url(server_id, pid)).status_code == 404, pid
    assert running(os.getpid())


def test_killing_on_an_unknown_or_non_execution_server_is_404(user, alice_client):
    pid = start_sleep(user)
    file_server = Server.objects.get(kind=Server.Kind.FILE)
    for server_id in (9_999_999, file_server.pk):
        assert alice_client.post(kill_url(server_id, pid)).status_code == 404
    assert running(pid)


def test_get_on_kill_is_not_allowed(user, alice_client):
    pid = start_sleep(user)
    assert alice_client.get(kill_url(the_server().pk, pid)).status_code == 405
    assert running(pid)


def test_killing_while_the_agent_is_down_says_so(user, alice_client):
    server = the_server()
    real_socket = server.execution_agent_socket
    Server.objects.filter(pk=server.pk).update(execution_agent_socket="/nonexistent/agent.sock")
    response = alice_client.post(kill_url(server.pk, 4242), follow=True)
    Server.objects.filter(pk=server.pk).update(execution_agent_socket=real_socket)
    assert [str(m) for m in response.context["messages"]] == [
        "Could not reach the server to signal 4242; try again shortly."
    ]
