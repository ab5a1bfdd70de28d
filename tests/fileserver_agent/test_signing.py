"""The signing scheme both sides share: exact message, secrets, freshness, replays."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from fileserver_agent.signing import (
    MAX_SKEW_SECONDS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    SignatureError,
    canonical_message,
    compute_signature,
    signature_headers,
    verify_request,
)

SECRET = "s3cret-for-signing-tests"
NOW = 1_767_000_000


def verify(
    secrets=(SECRET,),
    *,
    method="PUT",
    path="/v1/quotas/1000001",
    body=b"{}",
    headers=None,
    guard=None,
    now=NOW,
):
    headers = headers or signature_headers(SECRET, method, path, body, timestamp=NOW)
    verify_request(
        secrets=secrets,
        method=method,
        path=path,
        timestamp_header=headers.get(TIMESTAMP_HEADER),
        signature_header=headers.get(SIGNATURE_HEADER),
        body=body,
        replay_guard=ReplayGuard() if guard is None else guard,
        now=now,
    )


def refusal(**kwargs) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(**kwargs)
    return caught.value.code


def test_signed_message_is_method_path_timestamp_and_body_digest_on_lines():
    body = b'{"soft_bytes": 1}'
    expected = f"PUT\n/v1/quotas/7\n{NOW}\n{hashlib.sha256(body).hexdigest()}".encode()
    assert canonical_message("put", "/v1/quotas/7", NOW, body) == expected


def test_signature_is_hex_hmac_sha256_of_the_message():
    message = canonical_message("GET", "/v1/health", NOW, b"")
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, "GET", "/v1/health", NOW, b"") == expected


def test_a_correctly_signed_request_is_accepted():
    verify()


def test_a_signature_made_with_another_secret_is_refused():
    headers = signature_headers(
        "not-the-agents-secret", "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW
    )
    assert refusal(headers=headers) == "bad_signature"


def test_any_configured_secret_is_accepted_so_secrets_can_rotate():
    old = signature_headers(
        "old-secret-still-valid", "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW
    )
    verify(secrets=(SECRET, "old-secret-still-valid"), headers=old)
    new = signature_headers(SECRET, "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW + 1)
    verify(secrets=(SECRET, "old-secret-still-valid"), headers=new)


def test_a_secret_dropped_after_rotation_is_refused():
    old = signature_headers(
        "old-secret-now-dropped", "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW
    )
    assert refusal(secrets=(SECRET,), headers=old) == "bad_signature"


@pytest.mark.parametrize("offset", [61, -61, 3600])
def test_a_timestamp_more_than_a_minute_away_is_stale(offset):
    headers = signature_headers(SECRET, "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW)
    assert refusal(headers=headers, now=NOW + offset) == "stale_timestamp"


@pytest.mark.parametrize("offset", [60, -60, 0])
def test_a_timestamp_within_a_minute_is_fresh(offset):
    headers = signature_headers(SECRET, "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW)
    verify(headers=headers, now=NOW + offset)


def test_the_same_signature_twice_is_a_replay():
    guard = ReplayGuard()
    verify(guard=guard)
    assert refusal(guard=guard) == "replayed_signature"


def test_a_replay_is_refused_even_when_sent_in_capitals():
    guard = ReplayGuard()
    headers = signature_headers(SECRET, "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW)
    verify(guard=guard, headers=headers)
    shouting = {**headers, SIGNATURE_HEADER: headers[SIGNATURE_HEADER].upper()}
    assert refusal(guard=guard, headers=shouting) == "replayed_signature"


def test_a_tampered_body_is_refused():
    headers = signature_headers(
        SECRET, "PUT", "/v1/quotas/1000001", b'{"hard_bytes":1}', timestamp=NOW
    )
    assert refusal(headers=headers, body=b'{"hard_bytes":9}') == "bad_signature"


def test_a_signature_for_another_path_is_refused():
    headers = signature_headers(SECRET, "PUT", "/v1/quotas/1000001", b"{}", timestamp=NOW)
    assert refusal(headers=headers, path="/v1/quotas/1000002") == "bad_signature"


def test_a_signature_for_another_method_is_refused():
    headers = signature_headers(SECRET, "GET", "/v1/usage/1000001", b"", timestamp=NOW)
    assert (
        refusal(headers=headers, method="DELETE", path="/v1/usage/1000001", body=b"")
        == "bad_signature"
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_signature"),
        ({TIMESTAMP_HEADER: str(NOW)}, "missing_signature"),
        ({TIMESTAMP_HEADER: "yesterday", SIGNATURE_HEADER: "ab" * 32}, "bad_timestamp"),
        ({TIMESTAMP_HEADER: "-5", SIGNATURE_HEADER: "ab" * 32}, "bad_timestamp"),
        ({TIMESTAMP_HEADER: f"{NOW}.1234", SIGNATURE_HEADER: "ab" * 32}, "bad_timestamp"),
        ({TIMESTAMP_HEADER: f"{NOW}.", SIGNATURE_HEADER: "ab" * 32}, "bad_timestamp"),
        ({TIMESTAMP_HEADER: "1e9", SIGNATURE_HEADER: "ab" * 32}, "bad_timestamp"),
        ({TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "not-hex"}, "bad_signature"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(headers, code):
    assert refusal(headers=headers or {"_": ""}) == code


def test_the_replay_guard_forgets_signatures_once_they_would_be_stale_anyway():
    guard = ReplayGuard(max_skew=60)
    assert guard.first_use("a" * 64, timestamp=NOW, now=NOW)
    assert not guard.first_use("a" * 64, timestamp=NOW, now=NOW + 60)
    assert guard.first_use("b" * 64, timestamp=NOW + 61, now=NOW + 61)
    assert len(guard) == 1


def test_milliseconds_make_the_same_request_twice_a_second_two_signatures():
    guard = ReplayGuard()
    for stamp in (f"{NOW}.001", f"{NOW}.002"):
        headers = signature_headers(SECRET, "GET", "/v1/usage/7", b"", timestamp=stamp)
        verify(method="GET", path="/v1/usage/7", body=b"", headers=headers, guard=guard)
    again = signature_headers(SECRET, "GET", "/v1/usage/7", b"", timestamp=f"{NOW}.002")
    assert refusal(method="GET", path="/v1/usage/7", body=b"", headers=again, guard=guard) == (
        "replayed_signature"
    )


def test_a_fractional_timestamp_is_still_held_to_the_skew_limit():
    headers = signature_headers(SECRET, "PUT", "/v1/quotas/1000001", b"{}", timestamp=f"{NOW}.5")
    assert refusal(headers=headers, now=NOW + MAX_SKEW_SECONDS + 1) == "stale_timestamp"
