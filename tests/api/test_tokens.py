"""Tokens: stored hashed, shown once, refused when wrong, expired, revoked or in the URL."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from api import services
from api.models import ApiToken
from api.selectors import sandbox_env_for
from api.tokens import token_digest
from tests.api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_only_as_its_digest_with_a_visible_prefix(user):
    row, token = services.api_token_create(user=user, name="deploy")
    assert token.startswith("wrn_") and len(token) > 40
    assert row.digest == token_digest(token) and token not in row.digest
    assert row.prefix == token[:12]
    stored = ApiToken.objects.filter(pk=row.pk).values().get()
    assert all(token not in str(value) for value in stored.values() if value != row.prefix)


def test_a_valid_token_gets_in_and_records_its_last_use(user, alice_api):
    response = alice_api.get("cpu/")
    assert response.status_code == 200, response.content
    assert response.json()["allowance_seconds"] > 0
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_no_token_is_401_in_the_api_error_shape(user):
    response = ApiClient("", "alice").client.get("/api/v1/user/alice/cpu/")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "Authorization: Token" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer abc", "Token", "wrn_abc", "Basic dXNlcjpwYXNz"])
def test_a_malformed_authorization_header_is_401(user, header):
    response = ApiClient("", "alice").client.get(
        "/api/v1/user/alice/cpu/", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 401
    assert set(response.json()) == {"error", "detail"}


def test_a_wrong_token_is_401(user):
    token = token_for(user)
    wrong = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert ApiClient(wrong, "alice").get("cpu/").status_code == 401


def test_an_expired_token_is_refused(user):
    _, token = services.api_token_create(
        user=user, name="old", expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = ApiClient(token, "alice").get("cpu/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_revoked_token_is_refused(user):
    row, token = services.api_token_create(user=user, name="gone")
    assert ApiClient(token, "alice").get("cpu/").status_code == 200
    services.api_token_revoke(token=row)
    assert ApiClient(token, "alice").get("cpu/").status_code == 401


def test_a_deactivated_users_token_is_refused(user):
    token = token_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert ApiClient(token, "alice").get("cpu/").status_code == 401


@pytest.mark.parametrize("query", ["token={t}", "api_key={t}", "x={t}", "key=whatever"])
def test_a_token_in_the_query_string_is_refused_even_with_a_good_header(user, query):
    api = ApiClient(token_for(user), "alice")
    response = api.get("cpu/?" + query.format(t=api.token))
    assert response.status_code == 400
    assert "not accepted in the URL" in response.json()["detail"]


@override_settings(WARREN_API_RATE_LIMIT_PER_MINUTE=3)
def test_a_token_over_its_rate_limit_gets_429_with_retry_after(user):
    api = ApiClient(token_for(user), "alice")
    statuses = [api.get("cpu/").status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200]
    response = api.get("cpu/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert response.json()["error"] == "rate_limited"


@override_settings(WARREN_API_RATE_LIMIT_PER_MINUTE=2)
def test_the_rate_limit_is_per_token(user, outsider):
    alice, mallory = ApiClient(token_for(user), "alice"), ApiClient(token_for(outsider), "mallory")
    for _ in range(3):
        alice.get("cpu/")
    assert alice.get("cpu/").status_code == 429
    assert mallory.get("cpu/").status_code == 200


def test_the_sandbox_token_is_derived_again_identically_and_works(user):
    assert sandbox_env_for(user) == {}
    services.api_sandbox_token_set(user=user, enabled=True)
    first, again = sandbox_env_for(user), sandbox_env_for(user)
    assert first == again and first["API_TOKEN"].startswith("wrn_")
    # Saving the switch on again keeps the token consoles already have.
    services.api_sandbox_token_set(user=user, enabled=True)
    assert sandbox_env_for(user) == first
    assert ApiClient(first["API_TOKEN"], "alice").get("cpu/").status_code == 200
    services.api_sandbox_token_set(user=user, enabled=False)
    assert sandbox_env_for(user) == {}
    assert ApiClient(first["API_TOKEN"], "alice").get("cpu/").status_code == 401


# --- the Account tab's card ----------------------------------------------------------------


def test_the_account_tab_creates_a_token_shown_once_and_lists_its_prefix(alice_client, user):
    response = alice_client.post("/api/tokens/new/", {"name": "laptop", "expires": "30"})
    assert response.status_code == 200
    token = response.context["token"]
    assert token in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert ApiClient(token, "alice").get("cpu/").status_code == 200
    page = alice_client.get("/account/").content.decode()
    assert "laptop" in page and token[:12] in page and token not in page
    row = ApiToken.objects.get(user=user)
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)


def test_a_bad_expiry_choice_is_refused_and_makes_nothing(alice_client):
    response = alice_client.post("/api/tokens/new/", {"name": "x", "expires": "9999"})
    assert response.status_code == 302
    assert not ApiToken.objects.exists()


def test_the_owner_revokes_a_token_from_the_account_tab(alice_client, user):
    row, token = services.api_token_create(user=user, name="old")
    response = alice_client.post(f"/api/tokens/{row.pk}/revoke/")
    assert response.status_code == 302
    assert ApiClient(token, "alice").get("cpu/").status_code == 401


def test_an_outsider_cannot_revoke_someone_elses_token(outsider_client, user):
    row, _ = services.api_token_create(user=user, name="mine")
    assert outsider_client.post(f"/api/tokens/{row.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=row.pk).exists()


def test_the_sandbox_switch_on_the_account_tab(alice_client, user):
    alice_client.post("/api/tokens/sandbox/", {"enabled": "on"})
    assert "API_TOKEN" in sandbox_env_for(user)
    alice_client.post("/api/tokens/sandbox/", {})
    assert sandbox_env_for(user) == {}


def test_staff_see_tokens_by_prefix_in_the_admin_and_never_the_digest(staff_client, user):
    row, token = services.api_token_create(user=user, name="ci")
    listing = staff_client.get("/admin/api/apitoken/").content.decode()
    assert row.prefix in listing
    page = staff_client.get(f"/admin/api/apitoken/{row.pk}/change/").content.decode()
    assert row.digest not in page and token not in page
    assert staff_client.get("/admin/api/apitoken/add/").status_code == 403
