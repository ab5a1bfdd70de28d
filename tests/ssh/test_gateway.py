"""SSH into the sandbox, end to end: a real ssh client, the gateway's sshd, the execution
agent and Warren's key lookup. Paid plans only; the session is the consoles' sandbox."""

import os
import subprocess

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Plan
from accounts.services import plan_change
from execution_agent.testing.harness import PtyReader
from ssh.models import SSHKey
from ssh.services import PAID_ONLY

pytestmark = pytest.mark.root


def test_key_login_lands_in_the_sandbox_as_the_user(make_ssh_user):
    alice = make_ssh_user("alice")
    result = alice.ssh("id -u; hostname; echo $HOME; pwd; ls /home; echo $WARREN_TAG_ID")
    assert result.returncode == 0, result.stderr
    uid, hostname, home, cwd, homes, tag = result.stdout.split("\n")[:6]
    assert int(uid) == alice.user.uid
    assert hostname == "warren"  # bubblewrap's UTS namespace, as in a console
    assert home == cwd == "/home/alice"
    assert homes == "alice"  # nobody else's home
    assert tag == "ssh"  # the Processes page can name it


def test_exit_status_and_stderr_come_back_as_the_command_left_them(make_ssh_user):
    alice = make_ssh_user("alice")
    result = alice.ssh("echo out; echo err >&2; exit 7")
    assert (result.returncode, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_stdin_reaches_the_command(make_ssh_user):
    alice = make_ssh_user("alice")
    data = "line\n" * 50_000
    result = alice.ssh("wc -l", stdin=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "50000"


def test_a_command_that_stops_reading_its_input_still_exits_cleanly(make_ssh_user):
    """The relay then writes into a pipe nobody reads: that ends the stream, not the
    session (it used to die of SIGPIPE, and ssh reported 141 for a command that succeeded)."""
    alice = make_ssh_user("alice")
    result = alice.ssh("exec 0<&-; sleep 1; echo ok", stdin="x" * 1_000_000)
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


def test_interactive_login_gets_a_terminal_in_the_sandbox(make_ssh_user):
    alice = make_ssh_user("alice")
    session = subprocess.Popen(
        ["ssh", *alice.options, "-tt", "-p", str(alice.gateway.port), alice.target],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # Type once the prompt is there, as a person does (bash drops what came before it).
        PtyReader(session.stdout.fileno()).until(b"alice@warren:~$ ", timeout=30)
        session.stdin.write(b"tty; echo size=$(stty size); id -un; exit 3\n")
        session.stdin.flush()
        out, _ = session.communicate(timeout=30)
    finally:
        session.kill()
    assert session.returncode == 3, out
    assert b"/dev/console" in out  # a terminal (bwrap binds the session's there, as for consoles)
    assert b"size=24 80" in out  # ssh's default for a terminal it cannot measure
    assert b"alice" in out


def test_a_big_paste_into_a_program_that_echoes_it_does_not_wedge_the_session(make_ssh_user):
    """Typed input and the program's output share the terminal: a relay that blocks writing
    the paste while the program blocks writing its echo would hang both for good."""
    alice = make_ssh_user("alice")
    session = subprocess.Popen(
        ["ssh", *alice.options, "-tt", "-p", str(alice.gateway.port), alice.target],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        PtyReader(session.stdout.fileno()).until(b"alice@warren:~$ ", timeout=30)
        paste = b"".join(b"%06d %s\n" % (n, b"x" * 90) for n in range(3000))  # ~290 KB
        # Plain cat: every pasted line comes back as the program's output too.
        typed = b"cat\n" + paste + b"\x04" + b"echo done-$((6 * 7)); exit\n"
        out, _ = session.communicate(typed, timeout=90)  # writes and reads at once
    finally:
        session.kill()
    assert session.returncode == 0, out[-500:]
    assert b"002999 xxx" in out and b"done-42" in out


def test_scp_a_file_in_and_see_it_in_the_files_tab(make_ssh_user, tmp_path):
    alice = make_ssh_user("alice")
    local = tmp_path / "notes.txt"
    local.write_text("written over scp\n")
    copied = subprocess.run(
        ["scp", *alice.options, "-P", str(alice.gateway.port), str(local),
         f"{alice.target}:notes.txt"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    browser = Client()
    browser.force_login(alice.user)
    page = browser.get(reverse("files:browse", args=["home/alice/"]))
    assert page.status_code == 200
    assert "notes.txt" in page.content.decode()
    opened = browser.get(reverse("files:edit", args=["home/alice/notes.txt"]))
    assert "written over scp" in opened.content.decode()


def test_legacy_scp_protocol_works_too(make_ssh_user, tmp_path, ssh_agent):
    alice = make_ssh_user("alice")
    local = tmp_path / "legacy.txt"
    local.write_text("scp -O\n")
    copied = subprocess.run(
        ["scp", "-O", *alice.options, "-P", str(alice.gateway.port), str(local),
         f"{alice.target}:legacy.txt"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    stored = ssh_agent.homes / "alice" / "legacy.txt"
    assert stored.read_text() == "scp -O\n"
    assert stored.stat().st_uid == alice.user.uid


def test_sftp_puts_lists_and_gets_in_the_home(make_ssh_user, tmp_path, ssh_agent):
    alice = make_ssh_user("alice")
    (tmp_path / "up.txt").write_text("via sftp\n")
    batch = tmp_path / "batch"
    batch.write_text(
        f"put {tmp_path / 'up.txt'} up.txt\nmkdir sub\nls\nget up.txt {tmp_path}/down.txt\n"
    )
    result = subprocess.run(
        ["sftp", *alice.options, "-P", str(alice.gateway.port), "-b", str(batch), alice.target],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "up.txt" in result.stdout
    assert (tmp_path / "down.txt").read_text() == "via sftp\n"
    assert (ssh_agent.homes / "alice" / "sub").is_dir()
    assert (ssh_agent.homes / "alice" / "up.txt").stat().st_uid == alice.user.uid


def test_rsync_copies_a_directory_into_the_home(make_ssh_user, tmp_path, ssh_agent):
    alice = make_ssh_user("alice")
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "app.py").write_text("print('hi')\n")
    (project / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    result = subprocess.run(
        ["rsync", "-a", "-e", alice.ssh_command(), f"{project}/", f"{alice.target}:project/"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    copied = ssh_agent.homes / "alice" / "project"
    assert (copied / "pkg" / "app.py").read_text() == "print('hi')\n"
    assert (copied / "big.bin").read_bytes() == (project / "big.bin").read_bytes()
    assert (copied / "big.bin").stat().st_uid == alice.user.uid


def test_a_deleted_key_is_refused_at_once(make_ssh_user):
    alice = make_ssh_user("alice")
    assert alice.ssh("true").returncode == 0
    browser = Client()
    browser.force_login(alice.user)
    key = SSHKey.objects.get(user=alice.user)
    browser.post(reverse("ssh:key_delete", args=[key.pk]))
    refused = alice.ssh("true")
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr


def test_someone_elses_key_does_not_log_in_as_them(make_ssh_user):
    alice = make_ssh_user("alice")
    mallory = make_ssh_user("mallory")
    result = mallory.ssh("id -u")
    assert int(result.stdout) == mallory.user.uid != alice.user.uid


def test_a_free_plan_user_is_refused_with_a_message(make_ssh_user):
    alice = make_ssh_user("alice")
    plan_change(user=alice.user, plan=Plan.objects.get(slug="beginner"))
    refused = alice.ssh("id -u")
    assert refused.returncode == 1
    assert refused.stdout == ""  # nothing ran
    assert PAID_ONLY in refused.stderr


def test_an_inactive_account_cannot_log_in(make_ssh_user):
    alice = make_ssh_user("alice")
    alice.user.is_active = False
    alice.user.save(update_fields=["is_active"])
    assert "Permission denied (publickey)" in alice.ssh("true").stderr
