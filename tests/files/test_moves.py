"""Moving a user to another file server: staff start it in the admin, the home is copied while
the user works, their consoles stop for the final pass and start again, the registry switches."""

import os
import shutil
import subprocess
import time

import pytest

from files import moves
from files.fileserver import client_for_user
from files.models import HomeMove
from servers.models import Server
from tests.deploy.backup_trees import differences, manifest
from tests.files.fileservers import TwoFileServers, is_mounted, mover

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def test_staff_move_a_user_and_everything_lands_on_the_new_server(
    two, staff_client, django_capture_on_commit_callbacks
):
    alice, home = mover(two)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/files/homemove/add/", {"user": alice.pk, "target": two.servers[1].pk}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    move = HomeMove.objects.get(user=alice)
    assert move.state == HomeMove.State.DONE, move.error
    assert move.source == two.servers[0] and move.passes >= 2
    assert move.downtime_seconds is not None and move.downtime_seconds > 0
    alice.refresh_from_db()
    assert alice.file_server == two.servers[1]
    moved = two.agents[1].homes / "alice"
    assert differences(manifest(home), manifest(moved)) == []
    assert (two.agents[1].www / "alice" / "wsgi.py").exists()
    # The new server enforces the plan's quota; the user's files are read from it now.
    assert client_for_user(alice).get_usage(alice.uid).hard_bytes == alice.plan.disk_bytes
    assert client_for_user(alice).get_usage(alice.uid).used_bytes > 900_000


def test_the_user_sees_a_notice_while_their_home_moves(two, client):
    alice, _ = mover(two)
    client.force_login(alice)
    assert "home-move-banner" not in client.get("/").content.decode()
    move = moves.home_move_start(user=alice, target=two.servers[1])  # no worker yet
    assert "Your files are moving" in client.get("/").content.decode()
    moves.home_move_run(move_id=move.pk)
    assert "home-move-banner" not in client.get("/").content.decode()


def test_a_move_to_where_the_home_is_or_a_second_move_is_refused(two, staff_client):
    alice, _ = mover(two)
    same = staff_client.post(
        "/admin/files/homemove/add/", {"user": alice.pk, "target": two.servers[0].pk}
    )
    assert same.status_code == 200 and "already" in same.content.decode()
    moves.home_move_start(user=alice, target=two.servers[1])
    again = staff_client.post(
        "/admin/files/homemove/add/", {"user": alice.pk, "target": two.servers[1].pk}
    )
    assert again.status_code == 200 and "being moved already" in again.content.decode()
    assert HomeMove.objects.filter(user=alice).count() == 1


def test_users_cannot_move_anyone(two, alice_client):
    response = alice_client.get("/admin/files/homemove/add/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_failed_move_leaves_the_user_where_they_were(two, tmp_path):
    alice, home = mover(two)
    two.agents[1].stop()  # its roots cannot be asked for
    move = moves.home_move_start(user=alice, target=two.servers[1])
    moves.home_move_run(move_id=move.pk)
    move.refresh_from_db()
    assert move.state == HomeMove.State.FAILED and move.error
    alice.refresh_from_db()
    assert alice.file_server == two.servers[0]
    assert (home / "thesis" / "chapter1.md").exists()


def test_a_move_is_run_once_however_often_it_is_delivered(two):
    alice, _ = mover(two)
    move = moves.home_move_start(user=alice, target=two.servers[1])
    assert moves.home_move_run(move_id=move.pk) is not None
    assert moves.home_move_run(move_id=move.pk) is None  # acks_late redelivery: claimed already


def test_consoles_stop_for_the_final_pass_and_start_again(
    exec_agent, local_servers, tmp_path, django_capture_on_commit_callbacks
):
    from consoles import services, tmux
    from consoles.models import Console
    from servers.processes import user_processes

    # The source is the file server the execution agent sees the homes of (shared, as NFS).
    two = TwoFileServers(tmp_path, source_homes=exec_agent.homes)
    try:
        alice, _ = mover(two, username="mover")
        console = services.console_start(owner=alice, kind=Console.Kind.BASH)
        assert tmux.live_states(alice, console.server).get(console.pk) is True
        running_before = {row.pid for row in user_processes(user=alice).rows}
        assert running_before
        move = moves.home_move_start(user=alice, target=two.servers[1])
        moves.home_move_run(move_id=move.pk)
        move.refresh_from_db()
        assert move.state == HomeMove.State.DONE, move.error
        console.refresh_from_db()
        assert console.state == Console.State.RUNNING
        assert tmux.live_states(alice, console.server).get(console.pk) is True
        # Every process of hers was stopped for the final pass; the console's are new.
        running_after = {row.pid for row in user_processes(user=alice).rows}
        assert running_after and not running_after & running_before
    finally:
        exec_agent.kill_user_processes({alice.uid})
        two.stop()
        shutil.rmtree(exec_agent.homes / "mover", ignore_errors=True)
        shutil.rmtree(exec_agent.www / "mover", ignore_errors=True)


def mark(home, user, text):
    (home / "where.txt").write_text(text)
    os.chown(home / "where.txt", user.uid, user.uid)


def console_output(alice, command: str) -> str:
    """What a console started now shows after running ``command``."""
    from consoles import services, tmux
    from consoles.models import Console

    console = services.console_start(owner=alice, kind=Console.Kind.BASH)
    deadline = time.monotonic() + 15
    while "$" not in tmux.capture(console) and time.monotonic() < deadline:
        time.sleep(0.1)
    services.console_send_input(console=console, text=command + "\n")
    while time.monotonic() < deadline:
        screen = tmux.capture(console)
        if "END" in screen.split(command, 1)[-1]:
            return screen.split(command, 1)[-1]
        time.sleep(0.1)
    raise AssertionError(f"no output: {tmux.capture(console)!r}")


def test_after_a_move_a_new_console_sees_the_new_servers_copy_only(exec_agent, mounted):
    alice, _ = mover(mounted, username="mover")
    # Provisioning bound her home from the first server on the execution server.
    assert (exec_agent.homes / "mover" / "thesis" / "chapter1.md").exists()
    move = moves.home_move_start(user=alice, target=mounted.servers[1])
    moves.home_move_run(move_id=move.pk)
    move.refresh_from_db()
    assert move.state == HomeMove.State.DONE, move.error
    mark(mounted.agents[0].homes / "mover", alice, "the old server\n")
    mark(mounted.agents[1].homes / "mover", alice, "the new server\n")
    try:
        output = console_output(alice, "cat ~/where.txt; echo END")
        assert "the new server" in output and "the old server" not in output
    finally:
        exec_agent.kill_user_processes({alice.uid})


def test_without_www_mounts_the_web_directory_is_not_switched(exec_agent, mounted):
    """Today's behaviour when WARREN_FILESERVER_WWW_MOUNTS is unset: the home alone is bound."""
    alice, _ = mover(mounted, username="mover")
    move = moves.home_move_start(user=alice, target=mounted.servers[1])
    moves.home_move_run(move_id=move.pk)
    move.refresh_from_db()
    assert move.state == HomeMove.State.DONE, move.error
    assert is_mounted(exec_agent.homes / "mover")
    assert not is_mounted(exec_agent.www / "mover")


def test_after_a_move_the_web_directory_is_the_new_servers_copy(exec_agent, mounted_www):
    alice, _ = mover(mounted_www, username="mover")
    www = exec_agent.www / "mover"
    # Provisioning bound her web directory from the first server, with her home.
    assert (www / "wsgi.py").read_text() == "application = None\n"
    move = moves.home_move_start(user=alice, target=mounted_www.servers[1])
    moves.home_move_run(move_id=move.pk)
    move.refresh_from_db()
    assert move.state == HomeMove.State.DONE, move.error
    old, new = (agent.www / "mover" for agent in mounted_www.agents)
    assert (new / "wsgi.py").exists()
    mark(old, alice, "the old server\n")
    mark(new, alice, "the new server\n")
    try:
        output = console_output(
            alice, "cat /var/www/where.txt; echo hi > /var/www/new.txt; echo END"
        )
        assert "the new server" in output and "the old server" not in output
        assert (new / "new.txt").read_text() == "hi\n" and not (old / "new.txt").exists()
        assert (www / "where.txt").read_text() == "the new server\n"
    finally:
        exec_agent.kill_user_processes({alice.uid})


def move_with_a_server_down(alice, target) -> HomeMove:
    """Run a move while one more execution server's agent does not answer (its machine is
    down): the move fails at its switch."""
    Server.objects.create(
        kind=Server.Kind.TASK, hostname="localhost", execution_agent_socket="/nonexistent.sock"
    )
    move = moves.home_move_start(user=alice, target=target)
    moves.home_move_run(move_id=move.pk)
    move.refresh_from_db()
    assert move.state == HomeMove.State.FAILED
    return move


def test_a_failed_switch_switches_the_web_directory_back_too(exec_agent, mounted_www):
    alice, _ = mover(mounted_www, username="mover")
    move_with_a_server_down(alice, mounted_www.servers[1])
    old, new = (agent.www / "mover" for agent in mounted_www.agents)
    mark(old, alice, "the old server\n")
    mark(new, alice, "the new server\n")
    assert (exec_agent.www / "mover" / "where.txt").read_text() == "the old server\n"


def test_the_mounts_command_binds_every_web_directory_again(exec_agent, mounted_www):
    from django.core.management import call_command

    mover(mounted_www, username="mover")
    for target in (exec_agent.homes / "mover", exec_agent.www / "mover"):
        subprocess.run(["umount", "-l", str(target)], check=True)  # a reboot
    assert not (exec_agent.www / "mover" / "wsgi.py").exists()
    call_command("warren_home_mounts_sync")
    assert (exec_agent.homes / "mover" / "thesis" / "chapter1.md").exists()
    assert (exec_agent.www / "mover" / "wsgi.py").exists()


def test_a_server_that_cannot_switch_fails_the_move_and_the_others_switch_back(exec_agent, mounted):
    alice, _ = mover(mounted, username="mover")
    move = move_with_a_server_down(alice, mounted.servers[1])
    assert "could not be switched on Task server localhost" in move.error
    alice.refresh_from_db()
    assert alice.file_server == mounted.servers[0]
    mark(mounted.agents[0].homes / "mover", alice, "the old server\n")
    mark(mounted.agents[1].homes / "mover", alice, "the new server\n")
    try:
        output = console_output(alice, "cat ~/where.txt; echo END")
        assert "the old server" in output and "the new server" not in output
    finally:
        exec_agent.kill_user_processes({alice.uid})


def test_the_mounts_command_binds_every_home_again(exec_agent, mounted):
    from django.core.management import call_command

    mover(mounted, username="mover")
    subprocess.run(["umount", "-l", str(exec_agent.homes / "mover")], check=True)  # a reboot
    assert not (exec_agent.homes / "mover" / "thesis").exists()
    call_command("warren_home_mounts_sync")
    assert (exec_agent.homes / "mover" / "thesis" / "chapter1.md").exists()


def test_users_cannot_see_moves(two, alice_client):
    assert alice_client.get("/admin/files/homemove/").status_code == 302
