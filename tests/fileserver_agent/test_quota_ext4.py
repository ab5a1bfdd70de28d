"""The ext4 backend: exact setquota/quota/repquota command lines and parsing of their output.

This kernel has no quota support, so the API tests put stand-ins for the tools on the
backend's search path (see quota_tools.py); the last tests run the real tools and show
their failure reaching the caller as a 502.
"""

from __future__ import annotations

import shutil

import pytest

from fileserver_agent import create_app
from fileserver_agent.quota import QuotaLimits
from fileserver_agent.quota.ext4 import (
    bytes_to_kib,
    quota_command,
    repquota_command,
    setquota_batch_command,
    setquota_batch_input,
    setquota_command,
)
from fileserver_agent.quota.ext4_output import QuotaOutputError, parse_quota, parse_repquota
from tests.fileserver_agent.conftest import SignedClient, agent_environment
from tests.fileserver_agent.quota_tools import FakeQuotaTools, sample

MIB = 1024 * 1024
FS = "/srv/homes"


def test_bytes_are_rounded_up_to_whole_kib_so_a_limit_never_becomes_unlimited():
    assert bytes_to_kib(0) == 0
    assert bytes_to_kib(1) == 1
    assert bytes_to_kib(1024) == 1
    assert bytes_to_kib(1025) == 2
    assert bytes_to_kib(512 * MIB) == 524288


def test_one_quota_is_setquota_u_with_kib_limits_and_no_inode_limits():
    limits = QuotaLimits(uid=1000001, soft_bytes=512 * MIB, hard_bytes=600 * MIB)
    assert setquota_command("/usr/sbin/setquota", limits, FS) == [
        "/usr/sbin/setquota",
        "-u",
        "1000001",
        "524288",
        "614400",
        "0",
        "0",
        "/srv/homes",
    ]


def test_a_batch_is_setquota_b_fed_name_and_four_limits_per_line():
    batch = [QuotaLimits(1000001, 512 * MIB, 600 * MIB), QuotaLimits(1000002, 0, 1500)]
    assert setquota_batch_command("/usr/sbin/setquota", FS) == [
        "/usr/sbin/setquota",
        "-u",
        "-b",
        "/srv/homes",
    ]
    assert setquota_batch_input(batch) == b"1000001 524288 614400 0 0\n1000002 0 2 0 0\n"


def test_usage_is_read_with_quota_unwrapped_with_raw_grace_for_one_filesystem():
    assert quota_command("/usr/bin/quota", 1000001, FS) == [
        "/usr/bin/quota",
        "-u",
        "-v",
        "-w",
        "-p",
        "--show-mntpoint",
        "--hide-device",
        "--filesystem=/srv/homes",
        "1000001",
    ]


def test_the_health_check_is_repquota_by_number():
    assert repquota_command("/usr/sbin/repquota", FS) == [
        "/usr/sbin/repquota",
        "-u",
        "-n",
        "-p",
        "/srv/homes",
    ]


def test_quota_output_under_the_limits_is_parsed():
    line = parse_quota(sample("quota_under_limits.txt"), FS)
    assert (line.used_kib, line.soft_kib, line.hard_kib, line.files) == (
        312340,
        512000,
        524288,
        1520,
    )


def test_quota_output_over_the_soft_limit_has_a_star_and_a_grace_time():
    line = parse_quota(sample("quota_over_soft_limit.txt"), FS)
    assert (line.used_kib, line.soft_kib, line.hard_kib) == (519880, 512000, 524288)


def test_quota_output_without_limits_is_all_zeros():
    line = parse_quota(sample("quota_no_limits.txt"), FS)
    assert (line.used_kib, line.soft_kib, line.hard_kib) == (0, 0, 0)


def test_a_mount_point_longer_than_its_column_still_parses():
    line = parse_quota(sample("quota_long_mount_point.txt"), "/srv/warren/homes-volume-01")
    assert (line.used_kib, line.hard_kib) == (2048, 1048576)


def test_quota_output_for_another_filesystem_is_not_taken_for_ours():
    with pytest.raises(QuotaOutputError, match="no line for /srv/other"):
        parse_quota(sample("quota_under_limits.txt"), "/srv/other")


def test_repquota_with_raw_grace_is_parsed_including_names_wider_than_their_column():
    report = parse_repquota(sample("repquota_numeric_raw_grace.txt"))
    assert report.device == "/dev/vdb1"
    assert report.block_grace == "7days"
    assert sorted(report.users) == [0, 1000001, 1000002, 1000003, 4294967294]
    assert report.users[1000002].used_kib == 519880
    assert report.users[4294967294].hard_kib == 2097152
    assert report.users[1000001].files == 1520


def test_repquota_in_human_form_is_parsed_whichever_grace_columns_are_blank():
    report = parse_repquota(sample("repquota_numeric_human_grace.txt"))
    assert report.users[1000001].files == 1520
    assert report.users[1000002].files == 4211  # block grace "6days" present
    assert report.users[1000005].files == 1200  # only the file grace present
    assert report.users[1000006].files == 2100  # both graces present
    assert report.users[1000006].used_kib == 530000


def test_output_that_is_not_a_report_is_an_error():
    with pytest.raises(QuotaOutputError):
        parse_repquota(sample("repquota_no_quota_enabled.stderr"))


@pytest.fixture
def tools(tmp_path) -> FakeQuotaTools:
    return FakeQuotaTools(tmp_path / "tools")


@pytest.fixture
def ext4(tmp_path, tools) -> SignedClient:
    env = agent_environment(
        tmp_path,
        WARREN_AGENT_BACKEND="ext4",
        WARREN_QUOTA_FILESYSTEM=str(tmp_path / "homes"),
        WARREN_QUOTA_TOOLS_PATH=str(tools.directory),
    )
    return SignedClient(create_app(env).test_client())


def test_putting_one_quota_runs_setquota_and_reports_kib_rounded_limits(ext4, tools, tmp_path):
    response = ext4.put("/v1/quotas/1000001", {"soft_bytes": 1000, "hard_bytes": 512 * MIB})
    assert response.status_code == 200
    assert response.json == {
        "uid": 1000001,
        "soft_bytes": 1024,
        "hard_bytes": 512 * MIB,
        "backend": "ext4",
    }
    [call] = tools.calls()
    assert call["tool"] == "setquota"
    assert call["argv"] == ["-u", "1000001", "1", "524288", "0", "0", str(tmp_path / "homes")]


def test_a_batch_is_one_setquota_fed_every_line(ext4, tools, tmp_path):
    batch = [
        {"uid": 1000000 + i, "soft_bytes": i * MIB, "hard_bytes": 2 * i * MIB}
        for i in range(1, 1001)
    ]
    response = ext4.put("/v1/quotas", batch)
    assert response.json == {"applied": 1000, "backend": "ext4"}
    [call] = tools.calls()
    assert call["argv"] == ["-u", "-b", str(tmp_path / "homes")]
    lines = call["stdin"].splitlines()
    assert len(lines) == 1000
    assert lines[0] == "1000001 1024 2048 0 0"
    assert lines[-1] == "1001000 1024000 2048000 0 0"


def test_usage_comes_from_quota_output(ext4, tools, tmp_path):
    # quota prints the mount point "%15s"; put ours where the sample has /srv/homes.
    mount = str(tmp_path / "homes")
    output = sample("quota_over_soft_limit.txt").replace(f"{FS:>15}", f"{mount:>15}")
    tools.respond("quota", stdout=output, status=1)  # 1 means "over quota", not failure
    response = ext4.get("/v1/usage/1000002")
    assert response.status_code == 200, response.json
    assert response.json == {
        "used_bytes": 519880 * 1024,
        "soft_bytes": 512000 * 1024,
        "hard_bytes": 524288 * 1024,
        "backend": "ext4",
    }
    [call] = tools.calls()
    assert call["argv"] == [
        "-u", "-v", "-w", "-p", "--show-mntpoint", "--hide-device", f"--filesystem={mount}",
        "1000002",
    ]  # fmt: skip


def test_a_failing_setquota_is_a_502_with_its_stderr(ext4, tools):
    tools.respond("setquota", stderr=sample("setquota_no_quota_enabled.stderr"), status=1)
    response = ext4.put("/v1/quotas/1000001", {"soft_bytes": 1, "hard_bytes": 2})
    assert response.status_code == 502
    assert response.json["error"] == "backend_failed"
    assert response.json["command"] == "setquota"
    assert "has no quota enabled" in response.json["stderr"]
    assert "setquota exited 1" in response.json["detail"]


def test_a_failing_batch_is_a_502_with_its_stderr(ext4, tools):
    tools.respond(
        "setquota",
        stderr="setquota: Cannot write quota for 1000002 on /dev/vdb1: Disk quota exceeded\n",
        status=1,
    )
    response = ext4.put("/v1/quotas", [{"uid": 1000002, "soft_bytes": 1, "hard_bytes": 2}])
    assert response.status_code == 502
    assert "Cannot write quota for 1000002" in response.json["stderr"]


def test_a_long_stderr_is_cut_to_its_end(ext4, tools):
    tools.respond("setquota", stderr="noise\n" * 500 + "the actual reason\n", status=1)
    response = ext4.put("/v1/quotas/1000001", {"soft_bytes": 1, "hard_bytes": 2})
    assert len(response.json["stderr"]) <= 601
    assert response.json["stderr"].endswith("the actual reason")


def test_quota_printing_nothing_for_our_filesystem_is_a_502(ext4, tools):
    tools.respond("quota", stderr=sample("quota_no_quota_enabled.stderr"), status=1)
    response = ext4.get("/v1/usage/1000001")
    assert response.status_code == 502
    assert "no quota enabled" in response.json["stderr"]


def test_health_reports_the_quota_device_from_repquota(ext4, tools):
    tools.respond("repquota", stdout=sample("repquota_numeric_raw_grace.txt"))
    response = ext4.get("/v1/health")
    assert response.status_code == 200
    assert response.json["backend_facts"]["device"] == "/dev/vdb1"
    assert response.json["backend_facts"]["users_with_usage"] == 5


def test_health_is_503_when_quotas_are_off_as_after_an_unclean_reboot(ext4, tools):
    tools.respond("repquota", stderr=sample("repquota_no_quota_enabled.stderr"), status=1)
    response = ext4.get("/v1/health")
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert "has no quota enabled" in response.json["problems"][0]


@pytest.mark.skipif(
    shutil.which("setquota", path="/usr/sbin:/usr/bin") is None,
    reason="needs Debian's quota tools: apt-get install quota",
)
def test_the_real_tools_on_a_filesystem_without_quotas_give_a_502_with_their_words(tmp_path):
    env = agent_environment(
        tmp_path, WARREN_AGENT_BACKEND="ext4", WARREN_QUOTA_FILESYSTEM=str(tmp_path)
    )
    client = SignedClient(create_app(env).test_client())
    response = client.put("/v1/quotas/1000001", {"soft_bytes": MIB, "hard_bytes": 2 * MIB})
    assert response.status_code == 502
    assert "setquota" in response.json["stderr"]
    usage = client.get("/v1/usage/1000001")
    assert usage.status_code == 502
    assert "quota" in usage.json["stderr"]
