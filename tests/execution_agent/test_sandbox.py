"""Escape probes: from inside one user's sandbox, against another user and the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from execution_agent.client import AgentError
from execution_agent.testing.harness import read_until

pytestmark = pytest.mark.root


def run(client, user, script: str, **kwargs) -> dict:
    result = client.run(user=user, argv=["bash", "-c", script], timeout=30, **kwargs)
    return result


def put(path: Path, text: str, owner: dict, mode: int = 0o600) -> None:
    path.write_text(text)
    os.chown(path, owner["uid"], owner["uid"])
    os.chmod(path, mode)


def test_another_users_home_and_www_files_cannot_be_listed_or_read(client, harness, alice, bob):
    put(harness.homes / bob["username"] / "secret.txt", "bob-home-secret", bob, 0o644)
    put(harness.www / bob["username"] / "bob_example_com_wsgi.py", "bob-www-secret", bob, 0o644)
    put(harness.homes / alice["username"] / "mine.txt", "alice-own-file", alice)
    put(harness.www / alice["username"] / "alice_example_com_wsgi.py", "alice-www", alice)
    bob_home = f"/home/{bob['username']}"
    result = run(
        client,
        alice,
        f"""
        cat ~/mine.txt; echo; cat /var/www/alice_example_com_wsgi.py; echo
        ls /home; ls /var/www
        ls {bob_home}; cat {bob_home}/secret.txt
        cat {harness.homes}/{bob["username"]}/secret.txt {harness.www}/{bob["username"]}/*
        grep -rs bob- /home /var/www /tmp /etc 2>/dev/null
        echo END""",
    )
    out = result["stdout"]
    assert "alice-own-file" in out and "alice-www" in out  # the probe can read what it should
    assert out.split("\n")[2:4] == [alice["username"], "alice_example_com_wsgi.py"]
    assert "bob-home-secret" not in out and "bob-www-secret" not in out
    assert bob["username"] not in out
    assert "END" in out
    assert "No such file or directory" in result["stderr"]


def test_another_users_processes_cannot_be_seen_or_signalled(client, alice, bob):
    victim = client.spawn(user=bob, argv=["sleep", "1234567"])["pid"]
    result = run(
        client,
        alice,
        f"""
        ps -eo pid,user,args; ls /proc | grep -c '^[0-9]'
        kill -9 {victim}; echo "kill=$?"
        """,
    )
    assert "1234567" not in result["stdout"]
    assert "kill=1" in result["stdout"]
    for op, extra in (("signal", {"signal": "KILL"}), ("terminate", {"grace": 0})):
        with pytest.raises(AgentError) as error:
            client.call(op, user=alice, pid=victim, **extra)
        assert error.value.code == "not_found"
    time.sleep(0.2)
    assert victim in [p["pid"] for p in client.processes(user=bob)]
    assert victim not in [p["pid"] for p in client.processes(user=alice)]


def test_nothing_outside_the_home_and_tmp_is_writable(client, harness, alice, bob):
    targets = [
        "/x",
        "/usr/x",
        "/etc/x",
        "/etc/passwd",
        "/home/x",
        "/dev/x",
        "/proc/x",
        "/var/x",
        f"/home/{bob['username']}/x",
        f"{harness.homes}/{bob['username']}/x",
        f"{harness.run_dir}/x",
    ]
    script = "; ".join(f"(echo hi > {t}) 2>/dev/null && echo WROTE:{t}" for t in targets)
    script += "; echo a > ~/ok.txt && echo a > /tmp/ok.txt && echo a > /var/tmp/ok2.txt"
    script += " && echo a > /dev/shm/ok.txt && echo a > /var/www/ok.txt && echo ALLOWED-OK"
    result = run(client, alice, script)
    assert "WROTE" not in result["stdout"]
    assert "ALLOWED-OK" in result["stdout"]
    assert not (harness.homes / bob["username"] / "x").exists()
    created = harness.homes / alice["username"] / "ok.txt"
    assert created.stat().st_uid == alice["uid"]


def test_a_setuid_root_binary_gives_no_privilege(client, harness, alice):
    binary = harness.homes / alice["username"] / "suid-id"
    shutil.copy("/usr/bin/id", binary)
    os.chown(binary, 0, 0)
    os.chmod(binary, 0o4755)  # noqa: S103 - the setuid probe
    # Control: outside the sandbox this very file does make alice root (where the test
    # filesystem honours setuid bits at all).
    if os.statvfs(binary).f_flag & os.ST_NOSUID:
        pytest.skip("the test filesystem is mounted nosuid: the control cannot run")
    outside = subprocess.run(
        [str(binary), "-u"],
        user=alice["uid"],
        group=alice["uid"],
        extra_groups=[],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert outside.stdout.strip() == "0"
    inside = run(
        client, alice, "~/suid-id -u; grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status"
    )
    lines = inside["stdout"].split("\n")
    assert lines[0] == str(alice["uid"])
    assert "NoNewPrivs:\t1" in lines
    assert "CapEff:\t0000000000000000" in lines and "CapBnd:\t0000000000000000" in lines


def test_a_fork_bomb_is_contained_and_the_neighbour_keeps_running(client, harness, alice, bob):
    neighbour = client.spawn(user=bob, argv=["sleep", "1234568"])["pid"]
    bomb = """
import json, os, time, errno
children, failure = 0, None
while children < 10000:
    try:
        pid = os.fork()
    except OSError as exc:
        failure = errno.errorcode[exc.errno]
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children += 1
with open(os.path.expanduser("~/bomb.json"), "w") as out:
    json.dump({"children": children, "failure": failure}, out)
time.sleep(60)
"""
    client.spawn(user=alice, argv=["python3", "-c", bomb], limits={"pids_max": 40})
    report = harness.homes / alice["username"] / "bomb.json"
    deadline = time.monotonic() + 20
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    outcome = json.loads(report.read_text())
    assert outcome["failure"] == "EAGAIN"
    assert outcome["children"] < 40
    with pytest.raises(AgentError) as error:
        client.spawn(user=alice, argv=["true"])
    assert error.value.code == "limit"
    assert neighbour in [p["pid"] for p in client.processes(user=bob)]
    assert client.run(user=bob, argv=["true"])["returncode"] == 0


TIOCSTI_PROBE = r"""
import errno, fcntl, json, os, termios
def attempt(request):
    try:
        fcntl.ioctl(0, request, b"X")
        return "INJECTED"
    except OSError as exc:
        return errno.errorcode[exc.errno]
report = {"plain": attempt(termios.TIOCSTI), "high_bits": attempt(termios.TIOCSTI | 1 << 32)}
try:
    os.close(os.open("/dev/tty", os.O_RDWR))  # only opens with a controlling terminal
    report["has_ctty"] = True
except OSError:
    report["has_ctty"] = False
print("REPORT" + json.dumps(report), flush=True)
"""


def _report(data: bytes) -> dict:
    line = data.split(b"REPORT", 1)[1].split(b"\r\n", 1)[0]
    return json.loads(line)


def test_tiocsti_is_blocked_by_the_seccomp_filter_alone(client, harness, alice):
    _, master = client.spawn_pty(
        user=alice, argv=["python3", "-c", TIOCSTI_PROBE], rows=24, cols=80
    )
    try:
        sandboxed = _report(read_until(master, b"}\r\n"))
    finally:
        os.close(master)
    # On its own controlling terminal the kernel answers TIOCSTI with success (sysctl
    # legacy_tiocsti=1) or EIO (=0), never EPERM: EPERM can only come from the filter, which
    # runs before the tty code. The control below shows the same probe without the filter.
    assert sandboxed == {"plain": "EPERM", "high_bits": "EPERM", "has_ctty": True}
    control = _control_probe_without_filter(harness, alice)
    legacy = Path("/proc/sys/dev/tty/legacy_tiocsti").read_text().strip()
    expected = "INJECTED" if legacy == "1" else "EIO"
    assert control == {"plain": expected, "high_bits": expected, "has_ctty": True}


def _control_probe_without_filter(harness, user) -> dict:
    master, slave = os.openpty()
    home = harness.homes / user["username"]
    process = subprocess.Popen(
        [
            "setsid",
            "--ctty",
            "bwrap",
            "--ro-bind",
            "/",
            "/",
            "--bind",
            str(home),
            str(home),
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--unshare-pid",
            "--",
            "python3",
            "-c",
            TIOCSTI_PROBE,
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        user=user["uid"],
        group=user["uid"],
        extra_groups=[],
        cwd="/",
    )
    os.close(slave)
    try:
        return _report(read_until(master, b"}\r\n"))
    finally:
        os.close(master)
        process.wait(timeout=10)


def test_the_sandbox_has_the_users_identity_and_a_clean_environment(client, alice):
    result = run(
        client,
        alice,
        "id; hostname; env | sort; grep -E 'Seccomp:' /proc/self/status",
        env={"WARREN_PYTHON": "3.11", "LANG": "en_GB.UTF-8"},
        tag={"kind": "task", "id": "t-42"},
    )
    out = result["stdout"]
    name, uid = alice["username"], alice["uid"]
    assert out.startswith(f"uid={uid}({name}) gid={uid}({name}) groups={uid}({name})\nwarren\n")
    env = dict(
        line.split("=", 1)
        for line in out.splitlines()
        if "=" in line and not line.startswith("uid=")
    )
    assert env["HOME"] == f"/home/{name}" and env["USER"] == name and env["LOGNAME"] == name
    assert env["SHELL"] == "/bin/bash" and env["LANG"] == "en_GB.UTF-8"
    assert env["WARREN_PYTHON"] == "3.11"
    assert (env["WARREN_TAG_KIND"], env["WARREN_TAG_ID"]) == ("task", "t-42")
    assert set(env) <= {
        "HOME",
        "USER",
        "LOGNAME",
        "PATH",
        "LANG",
        "TERM",
        "SHELL",
        "PWD",
        "SHLVL",
        "_",
        "WARREN_PYTHON",
        "WARREN_TAG_KIND",
        "WARREN_TAG_ID",
    }
    assert "Seccomp:\t2" in out


@pytest.mark.parametrize("key", ["LD_PRELOAD", "PYTHONPATH", "warren_x", "PATH"])
def test_environment_beyond_warren_term_and_lang_is_refused(client, alice, key):
    with pytest.raises(AgentError) as error:
        client.run(user=alice, argv=["true"], env={key: "x"})
    assert error.value.code == "bad_request"
    assert key in error.value.message


def test_user_code_starts_inside_the_users_cgroup(client, harness, alice):
    # cat is the sandbox's command itself: the very first user process.
    out = client.run(user=alice, argv=["cat", "/proc/self/cgroup"])["stdout"]
    groups = dict(line.split(":", 2)[1:] for line in out.splitlines())
    expected = f"/{harness.cgroup_prefix}/{alice['username']}"
    assert [groups[c] for c in ("cpu", "cpuacct", "memory", "pids")] == [expected] * 4
    memory = Path(f"/sys/fs/cgroup/memory{expected}/memory.limit_in_bytes").read_text()
    assert int(memory) == 3 << 30


def test_tmp_is_shared_by_a_users_sandboxes_and_private_to_them(client, alice, bob):
    assert run(client, alice, "echo note > /tmp/alice-note")["returncode"] == 0
    assert run(client, alice, "cat /tmp/alice-note")["stdout"] == "note\n"
    assert run(client, bob, "ls /tmp; cat /tmp/alice-note")["returncode"] != 0
    df = run(client, alice, "df -B1 --output=size /tmp | tail -1", limits={"tmp_bytes": 64 << 20})
    assert int(df["stdout"]) == 64 << 20
