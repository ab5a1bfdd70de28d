"""The Django side reaches the real agents: identities, a spawn, a file, a home."""

import os

import pytest

from servers.agents import execution_agent, user_ref

pytestmark = pytest.mark.root


def test_a_provisioned_user_has_a_home_owned_by_their_uid(provisioned, user, exec_agent):
    provisioned(user)
    home = exec_agent.homes / user.username
    assert home.is_dir()
    assert (home.stat().st_uid, home.stat().st_mode & 0o777) == (user.uid, 0o700)


def test_django_runs_a_command_as_the_user_in_their_sandbox(provisioned, user):
    provisioned(user)
    result = execution_agent().run(user=user_ref(user), argv=["sh", "-c", "id -u; echo $HOME"])
    assert result["returncode"] == 0
    assert result["stdout"].split() == [str(user.uid), "/home/alice"]


def test_django_reads_a_file_through_the_fd_the_agent_opened_as_the_user(provisioned, user):
    provisioned(user)
    client = execution_agent()
    fd, _ = client.fs_open(user=user_ref(user), path="hello.txt", mode="x")
    with os.fdopen(fd, "w") as handle:
        handle.write("written by Django as alice\n")
    [entry] = [e for e in client.fs_list(user=user_ref(user)) if e["name"] == "hello.txt"]
    assert entry["size"] == len("written by Django as alice\n")


def test_without_a_server_the_agent_on_this_machine_is_asked(local_servers, settings):
    # A console server elsewhere, registered first: its socket path opened here would not
    # be its agent, so files and web app checks must go to this machine's.
    from servers.models import Server

    Server.objects.filter(kind=Server.Kind.CONSOLE).delete()
    Server.objects.create(
        kind=Server.Kind.CONSOLE, hostname="console-2.example", execution_agent_socket="/x.sock"
    )
    mine = Server.objects.create(
        kind=Server.Kind.CONSOLE,
        hostname="127.0.0.1",
        execution_agent_socket=str(settings.WARREN_EXEC_AGENT_SOCKET),
    )
    assert execution_agent().socket_path == mine.execution_agent_socket
    assert execution_agent().info()["sandbox"] is True


def another_machine(settings, socket: str):
    """A task server registered under a hostname that is not this machine's."""
    from servers.models import Server

    return Server.objects.create(
        kind=Server.Kind.TASK, hostname="tasks-9.example", execution_agent_socket=socket
    )


def test_another_machines_agent_is_called_through_its_queue(local_servers, settings, user):
    # Celery is eager in tests: the queue's worker is this process, beside the test agent.
    from servers.agents import RemoteAgent

    server = another_machine(settings, str(settings.WARREN_EXEC_AGENT_SOCKET))
    agent = execution_agent(server)
    assert isinstance(agent, RemoteAgent)
    assert agent.info()["sandbox"] is True
    assert agent.socket_path.startswith("exec.tasks-9.example:")


def test_another_machines_agent_errors_come_back_as_agent_errors(provisioned, settings, user):
    from servers.agents import AgentError

    provisioned(user)
    agent = execution_agent(another_machine(settings, str(settings.WARREN_EXEC_AGENT_SOCKET)))
    with pytest.raises(AgentError) as raised:
        agent.fs_stat(user=user_ref(user), path="no-such-file")
    assert raised.value.code == "not_found"


def test_another_machine_that_does_not_answer_is_unavailable(local_servers, settings):
    from servers.agents import AgentUnavailable

    agent = execution_agent(another_machine(settings, "/nonexistent/agent.sock"))
    with pytest.raises(AgentUnavailable):
        agent.info()


def test_a_file_descriptor_cannot_come_from_another_machine(local_servers, settings, user):
    agent = execution_agent(another_machine(settings, str(settings.WARREN_EXEC_AGENT_SOCKET)))
    with pytest.raises(AttributeError, match="another machine"):
        agent.fs_open(user=user_ref(user), path="x", mode="r")


def test_a_queued_call_for_an_unknown_method_is_refused(local_servers, settings):
    # The broker is not trusted to name any method: only plain-data calls are made.
    from servers.tasks import agent_call

    server = another_machine(settings, str(settings.WARREN_EXEC_AGENT_SOCKET))
    answer = agent_call(server.pk, "console_attach", {})
    assert answer["error"] == "agent" and answer["code"] == "invalid"
