"""Attacks through console sharing, by a user with an account and a console of their own."""

import pytest
from django.test import Client
from django.urls import reverse

from consoles import services
from consoles.models import Share
from tests.factories import person

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def share_answer(client, console, username: str) -> tuple[list, list[str]]:
    """What the share form tells its user: where it sends them, and the message shown."""
    response = client.post(
        reverse("consoles:share", args=[console.pk]),
        {"username": username, "mode": "read-only"},
        follow=True,
    )
    return response.redirect_chain, [str(message) for message in response.context["messages"]]


def test_share_form_cannot_tell_which_usernames_exist(provisioned):
    """The share form answered "There is no user called X" for a name nobody has, and
    "Shared with X" otherwise: a list of guesses became a list of accounts to attack."""
    provisioned(person("bob"))
    mallory = provisioned(person("mallory"))
    console = services.console_start(owner=mallory, kind="bash")
    client = Client()
    client.force_login(mallory)

    existing = share_answer(client, console, "bob")
    missing = share_answer(client, console, "nosuchuser")

    assert existing[0] == missing[0]
    assert [m.replace("bob", "X") for m in existing[1]] == [
        m.replace("nosuchuser", "X") for m in missing[1]
    ]
    assert list(Share.objects.values_list("user__username", flat=True)) == ["bob"]
