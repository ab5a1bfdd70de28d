"""alice's home is on a btrfs file server whose kernel enforces her quota: a task of hers fills
it, she sees why on the Dashboard and the Files tab, and an upload the kernel refuses is
explained in her words."""

import secrets

import pytest
from selenium.webdriver.common.by import By

from accounts.services import custom_limits_set
from files.fileserver import client_for_user
from tests.browser.helpers import log_in_as, submit, wait_for_text
from tests.files.conftest import MIB, with_disk
from tests.files.test_quota_btrfs import alice, btrfs_fileserver, run_in_sandbox  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.root]


def test_a_full_home_is_explained_on_the_dashboard_and_the_files_tab(
    site,
    browser,
    alice,  # noqa: F811 - the fixture imported above
    exec_agent,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        custom_limits_set(user=alice, **with_disk(alice, 4 * MIB))
    log = run_in_sandbox(
        exec_agent,
        alice,
        # mktemp: a /tmp file of a fixed name may be left by an earlier alice (another uid).
        "err=$(mktemp); dd if=/dev/zero of=$HOME/reserve bs=256K count=1 2>/dev/null;"
        "dd if=/dev/zero of=$HOME/big.bin bs=64K count=200 2>$err;"
        "rm $HOME/reserve; sync; cat $err",
    )
    assert "Disk quota exceeded" in log
    assert (exec_agent.homes / alice.username / "big.bin").stat().st_size >= 3 * MIB

    # The Dashboard warns her first thing.
    log_in_as(browser, site, alice)
    browser.get(site.url + "/")
    banner = browser.find_element(By.ID, "quota-banner")
    assert "of 4 MiB" in banner.text and "quota" in banner.text

    # The Files tab says it too, beside the usage.
    browser.find_element(By.LINK_TEXT, "Files").click()
    wait_for_text(browser, "big.bin")
    assert "of 4 MiB" in browser.find_element(By.ID, "quota-banner").text

    # Meanwhile her home filled further than the page knew (the kernel holds 1 MiB less than
    # the plan it shows): Warren's own check lets the upload through, the kernel refuses it.
    client_for_user(alice).set_quota(alice.uid, soft_bytes=3 * MIB, hard_bytes=3 * MIB)
    upload = tmp_path / "photo.bin"
    upload.write_bytes(secrets.token_bytes(100 * 1024))
    browser.find_element(By.CSS_SELECTOR, "#upload-form input[type=file]").send_keys(str(upload))
    submit(browser, "Upload")
    wait_for_text(browser, "you are over your storage quota", timeout=30)
    assert not (exec_agent.homes / alice.username / "photo.bin").exists()
