"""Disk usage: '312 MiB used of 512 MiB (61%)' on the Files tab and the Dashboard."""

import pytest

from files.selectors import StorageUsage
from files.units import format_bytes
from servers.models import Server
from tests.files.conftest import MIB, put, url, with_disk

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (312 * MIB, "312 MiB"),
        (int(1.5 * 1024 * MIB), "1.5 GiB"),
        (10 * 1024 * MIB, "10 GiB"),
    ],
)
def test_sizes_read_in_binary_units(count, text):
    assert format_bytes(count) == text


def test_usage_reads_as_used_of_limit_with_a_percentage():
    usage = StorageUsage(used_bytes=312 * MIB, limit_bytes=512 * MIB)
    assert usage.text == "312 MiB used of 512 MiB (61%)"
    assert not usage.danger
    assert StorageUsage(used_bytes=470 * MIB, limit_bytes=512 * MIB).danger  # 92%
    assert StorageUsage(used_bytes=600 * MIB, limit_bytes=512 * MIB).bar_percent == 100
    assert StorageUsage(used_bytes=MIB, limit_bytes=0).text == "1 MiB used"


@pytest.mark.root
def test_the_files_tab_shows_usage_that_grows_with_the_files(alice, alice_client, home):
    before = alice_client.get(url("browse", "home/alice/")).context["usage"]
    assert before.limit_bytes == alice.plan.disk_bytes
    put(home / "data.bin", b"x" * 3 * MIB, alice)
    response = alice_client.get(url("browse", "home/alice/"))
    after = response.context["usage"]
    assert after.used_bytes >= before.used_bytes + 3 * MIB
    assert after.text in response.content.decode()
    assert 'class="usage-bar"' in response.content.decode()


@pytest.mark.root
def test_the_bar_turns_red_above_ninety_percent(alice, alice_client, home):
    from accounts.services import custom_limits_set

    custom_limits_set(user=alice, **with_disk(alice, 4 * MIB))
    put(home / "data.bin", b"x" * int(3.8 * MIB), alice)
    page = alice_client.get(url("browse", "home/alice/")).content.decode()
    assert 'class="usage-bar danger"' in page and "of 4 MiB (9" in page


@pytest.mark.root
def test_the_dashboard_card_shows_the_same_usage(alice, alice_client):
    page = alice_client.get("/").content.decode()
    assert "Disk space" in page and "used of 512 MiB" in page


@pytest.mark.root
def test_an_unreachable_file_server_is_said_not_an_error(alice, alice_client):
    Server.objects.filter(kind="file").update(fileserver_agent_url="http://127.0.0.1:9")
    for page_url in ("/", url("browse", "home/alice/")):
        response = alice_client.get(page_url)
        assert response.status_code == 200
        assert "the file server is not answering" in response.content.decode()


def test_the_banner_warns_past_ninety_percent_and_says_over_at_the_quota():
    assert StorageUsage(used_bytes=400 * MIB, limit_bytes=512 * MIB).banner == ""
    nearly = StorageUsage(used_bytes=470 * MIB, limit_bytes=512 * MIB)
    assert nearly.banner.startswith("Your storage is nearly full (470 MiB used of 512 MiB")
    assert not nearly.over
    over = StorageUsage(used_bytes=600 * MIB, limit_bytes=512 * MIB)
    assert over.over and over.banner.startswith("You are over your storage quota (600 MiB")
    assert StorageUsage(used_bytes=600 * MIB, limit_bytes=0).banner == ""  # no limit


@pytest.mark.root
def test_the_dashboard_and_files_tab_show_the_banner_only_past_ninety_percent(
    alice, alice_client, home
):
    from accounts.services import custom_limits_set

    custom_limits_set(user=alice, **with_disk(alice, 4 * MIB))
    for page in ("/", url("browse", "home/alice/")):
        assert 'id="quota-banner"' not in alice_client.get(page).content.decode()
    put(home / "data.bin", b"x" * 5 * MIB, alice)  # a console can: du enforces nothing
    for page in ("/", url("browse", "home/alice/")):
        text = alice_client.get(page).content.decode()
        assert 'id="quota-banner"' in text and "You are over your storage quota" in text


@pytest.mark.root
def test_an_outsider_never_sees_anothers_banner(alice, mallory, outsider_client, home):
    from accounts.services import custom_limits_set

    custom_limits_set(user=alice, **with_disk(alice, 4 * MIB))
    put(home / "data.bin", b"x" * 5 * MIB, alice)
    assert outsider_client.get(url("browse", "home/alice/")).status_code == 404
    assert 'id="quota-banner"' not in outsider_client.get("/").content.decode()
