"""Bad bodies and URLs: a clear error in the API's shape, never a 500, nothing stored."""

import pytest
from django.test import override_settings

from schedules.models import ScheduledTask

pytestmark = pytest.mark.django_db

TASK = '{"command": "echo hi", "interval": "daily", "hour": 3, "minute": 0}'


def test_a_form_post_is_415(alice_api):
    response = alice_api.post("schedule/", "command=echo", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert not ScheduledTask.objects.exists()


def test_json_with_a_wrong_content_type_is_415(alice_api):
    response = alice_api.post("schedule/", TASK, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


@pytest.mark.parametrize("body", ['{"command": ', "not json", '{"a": 1}}', "\xff\xfe"])
def test_invalid_json_is_400(alice_api, body):
    response = alice_api.post("schedule/", body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert not ScheduledTask.objects.exists()


def test_json_of_the_wrong_shape_is_400_naming_the_field(alice_api):
    response = alice_api.post("schedule/", '{"command": "echo", "minute": "soon"}')
    assert response.status_code == 400
    assert "minute" in response.json()["detail"]


def test_a_form_error_is_400_with_the_forms_own_sentence(alice_api):
    response = alice_api.post("schedule/", '{"command": "echo", "interval": "daily", "minute": 1}')
    assert response.status_code == 400
    assert "A daily task needs an hour" in response.json()["detail"]
    assert not ScheduledTask.objects.exists()


@override_settings(WARREN_API_MAX_BODY_BYTES=2048)
def test_a_body_over_the_cap_is_413(alice_api):
    body = '{"command": "' + "x" * 4000 + '", "minute": 1}'
    response = alice_api.post("schedule/", body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


@pytest.mark.parametrize("path", ["cpu/?x=a%00b", "consoles/ab%00cd/"])
def test_nul_in_the_url_is_400(alice_api, path):
    assert alice_api.get(path).status_code == 400


def test_nul_in_a_json_string_is_400(alice_api):
    body = '{"command": "echo \\u0000", "interval": "daily", "hour": 1, "minute": 1}'
    assert alice_api.post("schedule/", body).status_code == 400


def test_an_unknown_user_in_the_url_is_404(alice_api):
    response = alice_api.as_("nobody").get("cpu/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_someone_elses_cpu_is_404(mallory_api, user):
    assert mallory_api.get("cpu/").status_code == 404


def test_the_schema_and_docs_are_served_without_a_token(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/v1/user/{username}/consoles/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # The Swagger UI comes from django-ninja's package through our static files, not a CDN.
    assert "swagger-ui-bundle.js" in html and "cdn" not in html.lower()


def test_a_wrong_method_is_405_in_the_api_shape(alice_api):
    response = alice_api.client.put("/api/v1/user/alice/cpu/", HTTP_AUTHORIZATION="Token x")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed" and "GET" in response["Allow"]


def test_an_unknown_api_url_is_a_json_404(alice_api):
    response = alice_api.get("no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
