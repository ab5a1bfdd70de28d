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
