"""The staff's daily list of users at or past their soft storage limit (files.tasks)."""

import pytest
from django.core import mail

from accounts.services import custom_limits_set
from files import tasks
from servers.models import Server
from tests.factories import UserFactory
from tests.files.conftest import MIB, put, with_disk

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def ops():
    return UserFactory(username="operator1", is_staff=True, email="ops@example.com")


def test_staff_are_mailed_the_users_over_their_soft_limit(
    alice, mallory, home, ops, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        custom_limits_set(user=alice, **with_disk(alice, 2 * MIB))
    # A console can write past the du backend's limit: only uploads and saves are refused.
    put(home / "big.bin", b"x" * 3 * MIB, alice)
    mail.outbox.clear()
    tasks.storage_over_quota_report.delay()
    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert "1 users at or over their storage quota" in message.subject
    assert "alice: 3 MiB used of 2 MiB" in message.body
    assert "mallory" not in message.body


def test_nothing_is_sent_when_everyone_is_under(alice, mallory, ops):
    mail.outbox.clear()
    tasks.storage_over_quota_report.delay()
    assert mail.outbox == []


def test_a_file_server_not_answering_is_named_not_hidden(alice, ops):
    down = Server.objects.create(
        kind=Server.Kind.FILE, hostname="fs-down", fileserver_agent_url="http://127.0.0.1:9"
    )
    UserFactory(username="carol", file_server=down)
    mail.outbox.clear()
    tasks.storage_over_quota_report.delay()
    [message] = mail.outbox
    assert "File servers not answering" in message.body and "fs-down" in message.body
