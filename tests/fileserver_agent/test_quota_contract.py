"""What every quota backend promises the API, run against all three.

* du: the real backend on a temporary directory (limits recorded, usage measured).
* ext4: the real backend with stand-ins for setquota/quota/repquota (this kernel mounts no
  ext4 with quotas); what reaches the kernel is read from the command lines they received.
* btrfs: the real backend on a real loop-mounted btrfs image with quotas on; what reaches
  the kernel is read back from its qgroup in sysfs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from fileserver_agent import create_app
from fileserver_agent.quota.btrfs import subvolume_id
from fileserver_agent.testing import BtrfsImage
from tests.fileserver_agent.conftest import SignedClient, agent_environment, new_uid, new_username
from tests.fileserver_agent.quota_tools import FakeQuotaTools

MIB = 1024 * 1024
KIB = 1024


class DuDriver:
    """Limits are only recorded: what "enforces" them is the log the usage endpoint reads."""

    name = "du"
    observes_writes = True

    def __init__(self, tmp_path: Path) -> None:
        self.env = agent_environment(tmp_path)

    def enforced_hard(self, signed: SignedClient, uid: int, home: Path) -> int:
        return signed.get(f"/v1/usage/{uid}").json["hard_bytes"]


class Ext4Driver:
    """setquota is the kernel's door: the last limit it was given for a uid is the one held."""

    name = "ext4"
    observes_writes = False  # the stand-ins cannot see a file being written

    def __init__(self, tmp_path: Path) -> None:
        self.tools = FakeQuotaTools(tmp_path / "tools")
        self.env = agent_environment(
            tmp_path,
            WARREN_AGENT_BACKEND="ext4",
            WARREN_QUOTA_FILESYSTEM=str(tmp_path / "homes"),
            WARREN_QUOTA_TOOLS_PATH=str(self.tools.directory),
        )

    def enforced_hard(self, signed: SignedClient, uid: int, home: Path) -> int:
        held = 0
        for call in self.tools.calls():
            if call["tool"] != "setquota":
                continue
            if "-b" in call["argv"]:
                lines = [line.split() for line in call["stdin"].splitlines()]
            else:
                lines = [call["argv"][1:6]]
            for name, _soft, hard, *_ in lines:
                if int(name) == uid:
                    held = int(hard) * KIB
        return held


class BtrfsDriver:
    """The qgroup of the home's subvolume, as the kernel reports it."""

    name = "btrfs"
    observes_writes = True

    def __init__(self, tmp_path: Path, image: BtrfsImage) -> None:
        homes = image.mount_point / f"homes-{secrets.token_hex(4)}"
        homes.mkdir(mode=0o755)
        self.image = image
        self.env = agent_environment(tmp_path, WARREN_AGENT_BACKEND="btrfs")
        self.env["WARREN_HOMES_ROOT"] = str(homes)

    def enforced_hard(self, signed: SignedClient, uid: int, home: Path) -> int:
        return qgroup_value(self.image, home, "max_referenced")


def qgroup_value(image: BtrfsImage, home: Path, name: str) -> int:
    """A counter of the home's qgroup, read from sysfs."""
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        qgroup = f"0_{subvolume_id(fd)}"
    finally:
        os.close(fd)
    [fs] = [d for d in Path("/sys/fs/btrfs").iterdir() if (d / "qgroups" / qgroup).exists()
            and _holds(d, image)]  # fmt: skip
    return int((fs / "qgroups" / qgroup / name).read_text())


def _holds(fs_dir: Path, image: BtrfsImage) -> bool:
    # /sys/fs/btrfs/<uuid>/devices/loopN names the loop device the image is attached to.
    devices = [d.name for d in (fs_dir / "devices").iterdir()]
    backing = [
        Path(f"/sys/block/{name}/loop/backing_file").read_text().strip()
        for name in devices
        if Path(f"/sys/block/{name}/loop/backing_file").exists()
    ]
    return str(image.image) in backing


@pytest.fixture(scope="module")
def btrfs_image():
    reason = BtrfsImage.unavailable()
    if reason:
        pytest.skip(f"no loop-mounted btrfs: {reason}")
    with BtrfsImage(size_bytes=256 * MIB) as image:
        yield image


@pytest.fixture(params=["du", "ext4", "btrfs"])
def driver(request, tmp_path):
    if request.param == "du":
        return DuDriver(tmp_path)
    if request.param == "ext4":
        return Ext4Driver(tmp_path)
    return BtrfsDriver(tmp_path, request.getfixturevalue("btrfs_image"))


@pytest.fixture
def api(driver) -> SignedClient:
    return SignedClient(create_app(driver.env).test_client())


def make_home(api: SignedClient, driver) -> tuple[int, Path]:
    username, uid = new_username(), new_uid()
    response = api.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid})
    assert response.status_code == 201, response.json
    return uid, Path(driver.env["WARREN_HOMES_ROOT"]) / username


def test_a_limit_set_through_the_api_reaches_what_enforces_it(api, driver):
    uid, home = make_home(api, driver)
    response = api.put(f"/v1/quotas/{uid}", {"soft_bytes": 4 * MIB, "hard_bytes": 8 * MIB})
    assert response.status_code == 200, response.json
    assert response.json == {
        "uid": uid,
        "soft_bytes": 4 * MIB,
        "hard_bytes": 8 * MIB,
        "backend": driver.name,
    }
    assert driver.enforced_hard(api, uid, home) == 8 * MIB


def test_setting_a_limit_again_replaces_it(api, driver):
    uid, home = make_home(api, driver)
    api.put(f"/v1/quotas/{uid}", {"soft_bytes": 4 * MIB, "hard_bytes": 8 * MIB})
    api.put(f"/v1/quotas/{uid}", {"soft_bytes": 1 * MIB, "hard_bytes": 2 * MIB})
    assert driver.enforced_hard(api, uid, home) == 2 * MIB


def test_a_limit_set_before_the_home_exists_holds_once_it_is_made(api, driver):
    username, uid = new_username(), new_uid()
    response = api.put(f"/v1/quotas/{uid}", {"soft_bytes": MIB, "hard_bytes": 3 * MIB})
    assert response.status_code == 200
    assert api.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid}).status_code == 201
    home = Path(driver.env["WARREN_HOMES_ROOT"]) / username
    assert driver.enforced_hard(api, uid, home) == 3 * MIB


def test_a_batch_reaches_every_home(api, driver):
    homes = [make_home(api, driver) for _ in range(3)]
    batch = [
        {"uid": uid, "soft_bytes": i * MIB, "hard_bytes": 2 * i * MIB}
        for i, (uid, _home) in enumerate(homes, start=1)
    ]
    response = api.put("/v1/quotas", batch)
    assert response.json == {"applied": 3, "backend": driver.name}
    for i, (uid, home) in enumerate(homes, start=1):
        assert driver.enforced_hard(api, uid, home) == 2 * i * MIB


def test_zero_lifts_the_limit(api, driver):
    uid, home = make_home(api, driver)
    api.put(f"/v1/quotas/{uid}", {"soft_bytes": MIB, "hard_bytes": 2 * MIB})
    assert api.put(f"/v1/quotas/{uid}", {"soft_bytes": 0, "hard_bytes": 0}).status_code == 200
    assert driver.enforced_hard(api, uid, home) == 0


def test_usage_reports_the_limits_and_grows_with_what_is_written(api, driver):
    if not driver.observes_writes:
        pytest.skip(f"{driver.name}: the stand-in tools cannot see writes (no quota kernel)")
    uid, home = make_home(api, driver)
    api.put(f"/v1/quotas/{uid}", {"soft_bytes": 40 * MIB, "hard_bytes": 50 * MIB})
    before = api.get(f"/v1/usage/{uid}").json
    assert (before["soft_bytes"], before["hard_bytes"]) == (40 * MIB, 50 * MIB)
    (home / "data.bin").write_bytes(os.urandom(3 * MIB))
    after = api.get(f"/v1/usage/{uid}").json
    assert after["used_bytes"] - before["used_bytes"] >= 3 * MIB
    assert after["backend"] == driver.name


@pytest.mark.parametrize("path", ["/v1/quotas/{uid}", "/v1/quotas"])
def test_a_limit_larger_than_the_filesystem_is_refused_and_nothing_changes(api, driver, path):
    uid, home = make_home(api, driver)
    api.put(f"/v1/quotas/{uid}", {"soft_bytes": MIB, "hard_bytes": 2 * MIB})
    capacity = os.statvfs(home).f_blocks * os.statvfs(home).f_frsize
    limits = {"soft_bytes": MIB, "hard_bytes": capacity + 1}
    body = limits if "{uid}" in path else [{"uid": uid, **limits}]
    response = api.put(path.format(uid=uid), body)
    assert response.status_code == 400
    assert (
        f"is larger than the filesystem holding the homes ({capacity} bytes)"
        in (response.json["detail"])
    )
    assert driver.enforced_hard(api, uid, home) == 2 * MIB


def test_the_health_check_passes(api, driver):
    if driver.name == "ext4":
        pytest.skip("ext4's health check reads repquota output: test_quota_ext4 covers it")
    response = api.get("/v1/health")
    assert response.status_code == 200, response.json
    assert response.json["backend"] == driver.name
