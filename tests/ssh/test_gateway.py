"""SSH into the sandbox, end to end: a real ssh client, the gateway's sshd, the execution
agent and Warren's key lookup. Paid plans only; the session is the consoles' sandbox."""

import pytest

pytestmark = pytest.mark.root


def test_key_login_lands_in_the_sandbox_as_the_user(make_ssh_user):
    alice = make_ssh_user("alice")
    result = alice.ssh("id -u; hostname; echo $HOME; pwd; ls /home")
    assert result.returncode == 0, result.stderr
    uid, hostname, home, cwd, homes = result.stdout.split("\n")[:5]
    assert int(uid) == alice.user.uid
    assert hostname == "warren"  # bubblewrap's UTS namespace, as in a console
    assert home == cwd == "/home/alice"
    assert homes == "alice"
