"""The agent refuses every request that is not freshly signed with a current secret."""

from __future__ import annotations

import time

import pytest

from fileserver_agent import create_app
from fileserver_agent.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_headers
from tests.fileserver_agent.conftest import OLD_SECRET, SECRET

QUOTA_BODY = b'{"soft_bytes": 1000, "hard_bytes": 2000}'


def put_quota(client, headers, *, path="/v1/quotas/1000001", body=QUOTA_BODY):
    return client.put(path, data=body, headers=headers, content_type="application/json")


def headers_for(
    secret=SECRET, method="PUT", path="/v1/quotas/1000001", body=QUOTA_BODY, timestamp=None
):
    return signature_headers(secret, method, path, body, timestamp=timestamp)


def test_an_unsigned_request_is_refused_with_json(client):
    response = client.get("/v1/health")
    assert response.status_code == 401
    assert response.json["error"] == "missing_signature"
    assert TIMESTAMP_HEADER in response.json["detail"]


def test_a_signed_request_is_served(client):
    response = put_quota(client, headers_for())
    assert response.status_code == 200, response.json


def test_a_wrong_secret_is_refused(client):
    response = put_quota(client, headers_for(secret="a-secret-the-agent-never-had"))
    assert response.status_code == 401
    assert response.json["error"] == "bad_signature"


def test_during_rotation_old_and_new_secrets_both_work(agent_env):
    agent_env["WARREN_AGENT_SECRETS"] = f"{SECRET},{OLD_SECRET}"
    client = create_app(agent_env).test_client()
    assert put_quota(client, headers_for(secret=OLD_SECRET)).status_code == 200
    assert put_quota(client, headers_for(secret=SECRET)).status_code == 200


def test_after_rotation_the_retired_secret_is_refused(client):
    assert put_quota(client, headers_for(secret=OLD_SECRET)).status_code == 401


@pytest.mark.parametrize("age", [61, -61])
def test_a_stale_or_far_future_timestamp_is_refused(client, age):
    response = put_quota(client, headers_for(timestamp=int(time.time()) - age))
    assert response.status_code == 401
    assert response.json["error"] == "stale_timestamp"


def test_a_replayed_request_is_refused(client):
    headers = headers_for()
    assert put_quota(client, headers).status_code == 200
    response = put_quota(client, headers)
    assert response.status_code == 401
    assert response.json["error"] == "replayed_signature"


def test_a_tampered_body_is_refused(client):
    headers = headers_for()
    tampered = b'{"soft_bytes": 1000, "hard_bytes": 999999999}'
    response = put_quota(client, headers, body=tampered)
    assert response.status_code == 401
    assert response.json["error"] == "bad_signature"


def test_a_signature_moved_to_another_uid_is_refused(client):
    response = put_quota(client, headers_for(), path="/v1/quotas/1000002")
    assert response.status_code == 401
    assert response.json["error"] == "bad_signature"


def test_unknown_urls_need_a_signature_too(client):
    assert client.get("/v1/secrets").status_code == 401


def test_a_signed_request_for_an_unknown_url_is_a_json_404(signed):
    response = signed.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_a_refused_signature_is_logged_without_the_signature(client, caplog):
    headers = headers_for(secret="a-secret-the-agent-never-had")
    put_quota(client, headers)
    assert "signature does not match" in caplog.text
    assert headers[SIGNATURE_HEADER] not in caplog.text
