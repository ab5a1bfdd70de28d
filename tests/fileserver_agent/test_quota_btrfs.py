"""The btrfs backend on a real loop-mounted image: homes as subvolumes, the kernel saying no.

The contract every backend keeps is in test_quota_contract.py; this is what only btrfs does.
"""

from __future__ import annotations

import errno
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from fileserver_agent import create_app
from fileserver_agent.config import ConfigError
from fileserver_agent.quota.btrfs import SUBVOLUME_ROOT_INODE
from fileserver_agent.testing import BtrfsImage
from tests.fileserver_agent.conftest import SignedClient, agent_environment, new_uid, new_username
from tests.fileserver_agent.test_quota_contract import qgroup_value

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def image():
    reason = BtrfsImage.unavailable()
    if reason:
        pytest.skip(f"no loop-mounted btrfs: {reason}")
    with BtrfsImage(size_bytes=256 * MIB) as image:
        yield image


@pytest.fixture
def homes(image) -> Path:
    homes = image.mount_point / f"homes-{secrets.token_hex(4)}"
    homes.mkdir(mode=0o755)
    return homes


@pytest.fixture
def env(tmp_path, homes) -> dict[str, str]:
    env = agent_environment(tmp_path, WARREN_AGENT_BACKEND="btrfs")
    env["WARREN_HOMES_ROOT"] = str(homes)
    return env


@pytest.fixture
def api(env) -> SignedClient:
    return SignedClient(create_app(env).test_client())


def test_a_new_home_is_a_subvolume_owned_by_its_user_with_the_skeleton(api, homes):
    username, uid = new_username(), new_uid()
    response = api.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid})
    assert response.status_code == 201
    st = os.lstat(homes / username)
    assert st.st_ino == SUBVOLUME_ROOT_INODE
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, uid, 0o700)
    assert (homes / username / ".bashrc").exists()
    assert subprocess.run(["btrfs", "subvolume", "show", str(homes / username)]).returncode == 0
    assert not [p for p in homes.iterdir() if p.name.startswith(".warren-staging-")]


def test_the_kernel_refuses_a_write_past_the_hard_limit_with_edquot(api, homes, image):
    username, uid = new_username(), new_uid()
    api.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid})
    api.put(f"/v1/quotas/{uid}", {"soft_bytes": MIB, "hard_bytes": 2 * MIB})
    written = 0
    big = open(homes / username / "big.bin", "wb", buffering=0)  # noqa: SIM115
    with big, pytest.raises(OSError) as refused:
        for _ in range(64):
            written += big.write(b"\0" * (64 * 1024))
    assert refused.value.errno == errno.EDQUOT
    assert MIB <= written <= 2 * MIB
    usage = api.get(f"/v1/usage/{uid}").json
    assert usage["hard_bytes"] == 2 * MIB and usage["soft_bytes"] == MIB
    assert usage["used_bytes"] >= written
    os.sync()
    assert qgroup_value(image, homes / username, "referenced") >= written


def test_the_web_directory_is_measured_into_usage_though_not_limited(api, homes, env):
    username, uid = new_username(), new_uid()
    api.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid})
    os.sync()
    before = api.get(f"/v1/usage/{uid}").json["used_bytes"]
    (Path(env["WARREN_WWW_ROOT"]) / username / "site.bin").write_bytes(os.urandom(2 * MIB))
    assert api.get(f"/v1/usage/{uid}").json["used_bytes"] - before >= 2 * MIB


def plain_home(homes: Path) -> tuple[int, Path]:
    """A home made the old way, with mkdir: what a du-backend server has before conversion."""
    username, uid = new_username(), new_uid()
    home = homes / username
    home.mkdir(mode=0o700)
    os.chown(home, uid, uid)
    return uid, home


def test_a_home_that_is_not_a_subvolume_is_named_and_nothing_is_recorded(api, homes):
    uid, home = plain_home(homes)
    response = api.put(f"/v1/quotas/{uid}", {"soft_bytes": MIB, "hard_bytes": 2 * MIB})
    assert response.status_code == 409
    assert response.json["error"] == "not_a_subvolume"
    assert f"{home} is a plain directory, not a btrfs subvolume" in response.json["detail"]
    assert "fileserver_agent/README.md" in response.json["detail"]
    usage = api.get(f"/v1/usage/{uid}")
    assert usage.status_code == 409


def test_a_batch_skips_homes_that_are_not_subvolumes_and_limits_the_rest(api, homes, image):
    plain_uid, _plain = plain_home(homes)
    username, uid = new_username(), new_uid()
    api.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid})
    batch = [
        {"uid": plain_uid, "soft_bytes": MIB, "hard_bytes": 2 * MIB},
        {"uid": uid, "soft_bytes": MIB, "hard_bytes": 3 * MIB},
    ]
    assert api.put("/v1/quotas", batch).json == {"applied": 1, "backend": "btrfs"}
    assert qgroup_value(image, homes / username, "max_referenced") == 3 * MIB


def test_a_converted_home_takes_its_limit(api, homes, image):
    """The README's conversion steps, as an operator would type them."""
    uid, home = plain_home(homes)
    (home / "notes.txt").write_text("kept across the conversion")
    os.chown(home / "notes.txt", uid, uid)
    new = home.with_name(f".{home.name}.subvolume")
    subprocess.run(["btrfs", "subvolume", "create", str(new)], check=True, capture_output=True)
    subprocess.run(["cp", "-a", "--reflink=auto", f"{home}/.", str(new)], check=True)
    subprocess.run(["chown", "--reference", str(home), str(new)], check=True)
    subprocess.run(["chmod", "--reference", str(home), str(new)], check=True)
    subprocess.run(["mv", "-T", str(home), f"{home}.old"], check=True)
    subprocess.run(["mv", "-T", str(new), str(home)], check=True)
    subprocess.run(["rm", "-rf", f"{home}.old"], check=True)
    response = api.put(f"/v1/quotas/{uid}", {"soft_bytes": MIB, "hard_bytes": 2 * MIB})
    assert response.status_code == 200, response.json
    assert qgroup_value(image, home, "max_referenced") == 2 * MIB
    assert (home / "notes.txt").read_text() == "kept across the conversion"
    assert os.lstat(home).st_uid == uid


def test_the_agent_will_not_start_on_a_homes_root_that_is_not_btrfs(tmp_path):
    env = agent_environment(tmp_path, WARREN_AGENT_BACKEND="btrfs")
    with pytest.raises(ConfigError, match="not on a btrfs filesystem"):
        create_app(env)


def test_the_agent_will_not_start_where_quotas_are_off(tmp_path):
    if BtrfsImage.unavailable():
        pytest.skip(BtrfsImage.unavailable())
    with BtrfsImage(size_bytes=128 * MIB) as other:
        subprocess.run(["btrfs", "quota", "disable", str(other.mount_point)], check=True)
        env = agent_environment(tmp_path, WARREN_AGENT_BACKEND="btrfs")
        env["WARREN_HOMES_ROOT"] = str(other.mount_point)
        with pytest.raises(ConfigError, match="btrfs quota enable"):
            create_app(env)
