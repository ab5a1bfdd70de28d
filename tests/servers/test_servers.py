import pytest
from django.core.management import call_command

from accounts.services import user_provision
from servers import checks
from servers.models import Server
from servers.selectors import server_with_fewest_users
from servers.services import servers_register_local
from tests.factories import ServerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_embedded_default_registers_this_machine_in_every_role(settings):
    servers_register_local()
    servers_register_local()  # idempotent
    assert sorted(Server.objects.values_list("kind", flat=True)) == [
        "console",
        "file",
        "task",
        "web",
    ]
    console = Server.objects.get(kind="console")
    assert console.execution_agent_socket == str(settings.WARREN_EXEC_AGENT_SOCKET)
    assert Server.objects.get(kind="file").fileserver_agent_url == settings.WARREN_FILESERVER_URL


def test_new_users_go_to_the_active_file_server_with_fewest_users():
    busy = ServerFactory(hostname="fs1")
    quiet = ServerFactory(hostname="fs2")
    ServerFactory(hostname="fs3", is_active=False)
    UserFactory(file_server=busy)
    assert server_with_fewest_users(kind="file") == quiet
    newcomer = user_provision(user=UserFactory())
    assert newcomer.file_server == quiet


def test_missing_tools_are_named_with_the_command_that_installs_them(
    settings, monkeypatch, tmp_path
):
    # A PATH holding every tool but bubblewrap.
    for tool in checks.TOOLS:
        if tool.command != "bwrap":
            (tmp_path / tool.command).write_text("#!/bin/sh\n")
            (tmp_path / tool.command).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    problems = checks.check_external_tools()
    assert len(problems) == 1
    assert "'bwrap' was not found" in problems[0].msg
    assert problems[0].hint == "Install it with: apt-get install bubblewrap"
    assert problems[0].level == checks.checks.WARNING

    settings.PRODUCTION = True
    assert checks.check_external_tools()[0].level == checks.checks.ERROR


def test_the_demo_command_creates_both_users_once_and_prints_the_same_passwords(capsys):
    call_command("warren_demo")
    first = capsys.readouterr().out
    call_command("warren_demo")
    assert capsys.readouterr().out == first
    assert "username: demo" in first and "username: staff-demo" in first
    from accounts.models import User

    assert User.objects.get(username="staff-demo").is_superuser
    assert not User.objects.get(username="demo").is_staff
