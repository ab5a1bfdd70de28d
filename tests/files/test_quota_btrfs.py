"""Quotas the kernel enforces: alice's home on a real loop-mounted btrfs, her sandbox's writes
refused past her plan's disk, and the Files tab and Dashboard saying so.

The file server's homes live on the image; her home is bind-mounted where the execution
agent looks for it, as NFS mounts the file server's homes on an execution server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import custom_limits_set, user_provision
from files.fileserver import client_for_user
from fileserver_agent.testing import AgentProcess, BtrfsImage
from servers.models import Server
from tests.factories import UserFactory
from tests.files.conftest import MIB, url, with_disk

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def btrfs_fileserver(exec_agent, local_servers, tmp_path):
    """A btrfs-backend fileserver agent on a fresh image, registered as a file server."""
    reason = BtrfsImage.unavailable()
    if reason:
        pytest.skip(f"no loop-mounted btrfs: {reason}")
    image = BtrfsImage(size_bytes=256 * MIB).create()
    homes = image.mount_point / "homes"
    homes.mkdir(mode=0o755)
    env = {
        "WARREN_HOMES_ROOT": str(homes),
        "WARREN_WWW_ROOT": str(exec_agent.www),
        "WARREN_AGENT_BACKEND": "btrfs",
        "WARREN_AGENT_STATE_DIR": str(tmp_path / "agent-state"),
        "WARREN_AGENT_SECRETS": settings.WARREN_AGENT_SECRETS[0],
        "WARREN_AGENT_MIN_UID": str(settings.WARREN_UID_BASE),
    }
    agent = AgentProcess(env, tmp_path / "logs").start()
    hostname = f"btrfs-{secrets.token_hex(3)}"
    server = Server.objects.create(
        kind=Server.Kind.FILE, hostname=hostname, fileserver_agent_url=agent.url
    )
    agent.homes = homes
    agent.server = server
    agent.mounts = []
    try:
        yield agent
    finally:
        agent.stop()
        for mount in agent.mounts:
            subprocess.run(["umount", str(mount)], check=False)
            mount.rmdir()
        image.remove()


@pytest.fixture
def alice(btrfs_fileserver, exec_agent, django_capture_on_commit_callbacks):
    """alice, provisioned on the btrfs file server; her home bind-mounted for the sandbox."""
    user = UserFactory(username="alice", file_server=btrfs_fileserver.server)
    with django_capture_on_commit_callbacks(execute=True):
        user = user_provision(user=user)
    on_fileserver = btrfs_fileserver.homes / user.username
    assert on_fileserver.stat().st_ino == 256, "the home is not a subvolume"
    seen_by_sandbox = exec_agent.homes / user.username
    seen_by_sandbox.mkdir()
    subprocess.run(["mount", "--bind", str(on_fileserver), str(seen_by_sandbox)], check=True)
    btrfs_fileserver.mounts.append(seen_by_sandbox)
    yield user
    exec_agent.kill_user_processes({user.uid})
    # The web directory is on the shared www root: a later test's alice has another uid.
    shutil.rmtree(exec_agent.www / user.username, ignore_errors=True)


def run_in_sandbox(exec_agent, user, command: str) -> str:
    """Run ``command`` as a scheduled task in the user's sandbox; return its log."""
    client = exec_agent.client()
    run_id = f"quota{secrets.token_hex(6)}"
    client.task_start(
        user={"uid": user.uid, "username": user.username},
        task_id=1,
        run_id=run_id,
        command=command,
        log=f"{run_id}.log",
        wall_seconds=30,
        log_max_bytes=1 << 20,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        finished = client.task_results()["finished"]
        if any(result["run_id"] == run_id for result in finished):
            return (exec_agent.homes / user.username / f"{run_id}.log").read_text()
        time.sleep(0.1)
    raise TimeoutError(f"task {run_id} did not finish")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_sandbox_write_past_the_plan_is_refused_and_the_files_tab_says_so(
    alice, exec_agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        custom_limits_set(user=alice, **with_disk(alice, 4 * MIB))
    # The task's log is in the home too, and a full home takes no more lines: dd's complaint
    # goes to /tmp, and a reserve file is deleted to make room for it in the log.
    log = run_in_sandbox(
        exec_agent,
        alice,
        # mktemp: a /tmp file of a fixed name may be left by an earlier alice (another uid).
        "err=$(mktemp); dd if=/dev/zero of=$HOME/reserve bs=256K count=1 2>/dev/null;"
        "dd if=/dev/zero of=$HOME/big.bin bs=64K count=200 2>$err;"
        "rm $HOME/reserve; sync; cat $err",
    )
    assert "Disk quota exceeded" in log
    written = (exec_agent.homes / "alice" / "big.bin").stat().st_size
    assert 3 * MIB <= written < 4 * MIB

    agent_usage = client_for_user(alice).get_usage(alice.uid)
    assert agent_usage.backend == "btrfs" and agent_usage.hard_bytes == 4 * MIB
    assert agent_usage.used_bytes >= written
    page = logged_in(alice).get(url("browse", "home/alice/"))
    assert page.context["usage"].used_bytes == agent_usage.used_bytes
    assert page.context["usage"].text in page.content.decode()
    assert 'id="quota-banner"' in page.content.decode()
    dashboard = logged_in(alice).get("/").content.decode()
    assert 'id="quota-banner"' in dashboard and "of 4 MiB" in dashboard


def test_a_save_the_kernel_refuses_says_you_are_over_your_storage_quota(alice, exec_agent):
    # The home filled up after the page read the usage (a console's dd, say): Warren's own
    # check lets the save through and the kernel says no. The plan allows 2 GiB; the
    # kernel holds 1 MiB (what it would hold after a downgrade the page has not seen).
    client_for_user(alice).set_quota(alice.uid, soft_bytes=MIB, hard_bytes=MIB)
    (exec_agent.homes / "alice" / "notes.txt").write_text("keep")
    os.chown(exec_agent.homes / "alice" / "notes.txt", alice.uid, alice.uid)
    response = logged_in(alice).post(
        url("edit", "home/alice/notes.txt"),
        data="z" * 2 * MIB,
        content_type="text/plain; charset=utf-8",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 413
    assert "you are over your storage quota" in response.json()["error"]
    assert (exec_agent.homes / "alice" / "notes.txt").read_text() == "keep"
    leftovers = [p.name for p in Path(exec_agent.homes / "alice").iterdir() if ".warren-" in p.name]
    assert leftovers == []
