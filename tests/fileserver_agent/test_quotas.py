"""PUT /v1/quotas/<uid>, PUT /v1/quotas and GET /v1/usage/<uid> on the du backend."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

from fileserver_agent import create_app
from tests.fileserver_agent.conftest import SignedClient, new_uid, new_username

MIB = 1024 * 1024


def make_home(signed, agent_env) -> tuple[int, Path]:
    username, uid = new_username(), new_uid()
    assert signed.post(f"/v1/homes/{username}", {"uid": uid, "gid": uid}).status_code == 201
    return uid, Path(agent_env["WARREN_HOMES_ROOT"]) / username


def test_setting_a_quota_returns_the_limits_applied(signed):
    uid = new_uid()
    response = signed.put(f"/v1/quotas/{uid}", {"soft_bytes": 512 * MIB, "hard_bytes": 600 * MIB})
    assert response.status_code == 200
    assert response.json == {
        "uid": uid,
        "soft_bytes": 512 * MIB,
        "hard_bytes": 600 * MIB,
        "backend": "du",
    }


def test_usage_reports_the_limits_beside_what_the_home_holds(signed, agent_env):
    uid, _home = make_home(signed, agent_env)
    signed.put(f"/v1/quotas/{uid}", {"soft_bytes": 512 * MIB, "hard_bytes": 600 * MIB})
    response = signed.get(f"/v1/usage/{uid}")
    assert response.status_code == 200
    assert response.json["soft_bytes"] == 512 * MIB
    assert response.json["hard_bytes"] == 600 * MIB
    assert response.json["backend"] == "du"
    assert response.json["used_bytes"] > 0  # the skeleton and the directories themselves


def test_usage_grows_when_files_are_written(signed, agent_env):
    uid, home = make_home(signed, agent_env)
    before = signed.get(f"/v1/usage/{uid}").json["used_bytes"]
    (home / "data.bin").write_bytes(os.urandom(3 * MIB))
    after = signed.get(f"/v1/usage/{uid}").json["used_bytes"]
    assert after - before >= 3 * MIB


def test_the_web_directory_counts_towards_usage(signed, agent_env):
    uid, home = make_home(signed, agent_env)
    before = signed.get(f"/v1/usage/{uid}").json["used_bytes"]
    www = Path(agent_env["WARREN_WWW_ROOT"]) / home.name
    (www / "alice_warren_dev_wsgi.py").write_bytes(os.urandom(MIB))
    assert signed.get(f"/v1/usage/{uid}").json["used_bytes"] - before >= MIB


def test_a_user_without_a_home_uses_nothing_and_has_no_limits(signed):
    response = signed.get(f"/v1/usage/{new_uid()}")
    assert response.json == {"used_bytes": 0, "soft_bytes": 0, "hard_bytes": 0, "backend": "du"}


def test_limits_survive_a_restart_of_the_agent(signed, agent_env):
    uid = new_uid()
    signed.put(f"/v1/quotas/{uid}", {"soft_bytes": 10 * MIB, "hard_bytes": 20 * MIB})
    restarted = SignedClient(create_app(agent_env).test_client())
    assert restarted.get(f"/v1/usage/{uid}").json["hard_bytes"] == 20 * MIB


def test_setting_a_quota_again_replaces_it(signed):
    uid = new_uid()
    signed.put(f"/v1/quotas/{uid}", {"soft_bytes": 10 * MIB, "hard_bytes": 20 * MIB})
    signed.put(f"/v1/quotas/{uid}", {"soft_bytes": 1 * MIB, "hard_bytes": 2 * MIB})
    assert signed.get(f"/v1/usage/{uid}").json["hard_bytes"] == 2 * MIB


def test_zero_means_no_limit(signed):
    uid = new_uid()
    response = signed.put(f"/v1/quotas/{uid}", {"soft_bytes": 0, "hard_bytes": 0})
    assert response.status_code == 200
    assert signed.get(f"/v1/usage/{uid}").json["hard_bytes"] == 0


def test_a_batch_applies_every_entry(signed):
    uids = [new_uid() for _ in range(50)]
    batch = [
        {"uid": uid, "soft_bytes": i * MIB, "hard_bytes": 2 * i * MIB}
        for i, uid in enumerate(uids, start=1)
    ]
    response = signed.put("/v1/quotas", batch)
    assert response.status_code == 200
    assert response.json == {"applied": 50, "backend": "du"}
    assert signed.get(f"/v1/usage/{uids[9]}").json["hard_bytes"] == 20 * MIB


def test_an_empty_batch_applies_nothing(signed):
    assert signed.put("/v1/quotas", []).json == {"applied": 0, "backend": "du"}


@pytest.mark.parametrize(
    ("uid", "reason"),
    [
        ("abc", "uid must be a non-negative whole number"),
        ("-5", "uid must be a non-negative whole number"),
        ("1.5", "uid must be a non-negative whole number"),
        (quote("\uff11\uff12\uff13\uff14"), "uid must be a non-negative whole number"),
        ("42", "below the agent's minimum of 1000"),
        ("4294967295", "above the largest valid id"),
    ],
)
def test_a_bad_uid_in_the_url_is_refused(signed, uid, reason):
    for response in (
        signed.put(f"/v1/quotas/{uid}", {"soft_bytes": 1, "hard_bytes": 2}),
        signed.get(f"/v1/usage/{uid}"),
    ):
        assert response.status_code == 400
        assert reason in response.json["detail"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"soft_bytes": -1, "hard_bytes": 10}, "soft_bytes must not be negative"),
        ({"soft_bytes": 1, "hard_bytes": -10}, "hard_bytes must not be negative"),
        ({"soft_bytes": 1.5, "hard_bytes": 10}, "soft_bytes must be a whole number of bytes"),
        ({"soft_bytes": 1, "hard_bytes": "10"}, "hard_bytes must be a whole number of bytes"),
        ({"soft_bytes": True, "hard_bytes": 10}, "soft_bytes must be a whole number of bytes"),
        ({"soft_bytes": 20, "hard_bytes": 10}, "soft_bytes (20) is above hard_bytes (10)"),
        ({"soft_bytes": 1, "hard_bytes": 2**61}, "hard_bytes is larger than"),
        ({"hard_bytes": 10}, "missing soft_bytes"),
        ({"soft": 1, "soft_bytes": 1, "hard_bytes": 2}, "unknown fields: soft"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_limits_are_refused_and_nothing_is_recorded(signed, body, reason):
    uid = new_uid()
    response = signed.put(f"/v1/quotas/{uid}", body)
    assert response.status_code == 400
    assert reason in response.json["detail"]
    assert signed.get(f"/v1/usage/{uid}").json["hard_bytes"] == 0


def test_nan_is_not_a_number_of_bytes(signed):
    response = signed.put(f"/v1/quotas/{new_uid()}", raw=b'{"soft_bytes": NaN, "hard_bytes": 1}')
    assert response.status_code == 400
    assert "NaN is not a number" in response.json["detail"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"uid": "x", "soft_bytes": 1, "hard_bytes": 2}, "entry 2: uid must be a whole number"),
        ({"uid": 5, "soft_bytes": 1, "hard_bytes": 2}, "entry 2: uid 5 is below"),
        ({"uid": None, "soft_bytes": 9, "hard_bytes": 2}, "entry 2: uid must be a whole number"),
        ({"soft_bytes": 1, "hard_bytes": 2}, "entry 2 is missing uid"),
        ("3000001", "entry 2 must be a JSON object"),
    ],
)
def test_one_bad_batch_entry_refuses_the_whole_batch(signed, entry, reason):
    first, second = new_uid(), new_uid()
    batch = [
        {"uid": first, "soft_bytes": 1, "hard_bytes": 2},
        {"uid": second, "soft_bytes": 1, "hard_bytes": 2},
        entry,
    ]
    response = signed.put("/v1/quotas", batch)
    assert response.status_code == 400
    assert reason in response.json["detail"]
    assert signed.get(f"/v1/usage/{first}").json["hard_bytes"] == 0


def test_a_batch_entry_with_soft_above_hard_is_named(signed):
    batch = [{"uid": new_uid(), "soft_bytes": 1, "hard_bytes": 2} for _ in range(3)]
    batch[1]["soft_bytes"] = 3
    response = signed.put("/v1/quotas", batch)
    assert response.status_code == 400
    assert response.json["detail"] == "entry 1: soft_bytes (3) is above hard_bytes (2)"


def test_a_uid_twice_in_one_batch_is_refused(signed):
    uid = new_uid()
    batch = [{"uid": uid, "soft_bytes": 1, "hard_bytes": 2}] * 2
    response = signed.put("/v1/quotas", batch)
    assert response.status_code == 400
    assert f"entry 1: uid {uid} appears more than once" in response.json["detail"]


def test_a_batch_must_be_a_list(signed):
    response = signed.put("/v1/quotas", {"uid": new_uid(), "soft_bytes": 1, "hard_bytes": 2})
    assert response.status_code == 400
    assert "must be a JSON list" in response.json["detail"]


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(signed, agent_env):
    (Path(agent_env["WARREN_AGENT_STATE_DIR"]) / "limits.log").mkdir()
    response = signed.put(f"/v1/quotas/{new_uid()}", {"soft_bytes": 1, "hard_bytes": 2})
    assert response.status_code == 500
    assert response.json == {
        "error": "internal_error",
        "detail": "internal error; the agent's log has details",
    }
    assert b"Traceback" not in response.data


def test_the_wrong_method_is_a_json_405(signed):
    response = signed.request("DELETE", f"/v1/quotas/{new_uid()}")
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"


def test_a_body_over_the_size_limit_is_a_json_413(signed):
    response = signed.put("/v1/quotas", raw=b"[" + b" " * (17 * MIB) + b"]")
    assert response.status_code == 413
    assert response.json["error"] == "request_entity_too_large"
