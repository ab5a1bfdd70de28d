"""HMAC-SHA256 request signing shared by the fileserver agent and its callers.

Standard library only: the Django side imports this module as it is, and the agent
must not grow dependencies on anything Warren's web tier uses.

The signed message is::

    METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + hex(sha256(body))

where PATH is the URL path exactly as sent on the request line (percent-encoding kept,
query string left out: the API takes none) and TIMESTAMP is Unix seconds, as sent, with up to
three decimals (so a caller can send the same request many times a second, each signature
unique, without waiting for the clock: the agent refuses a signature it has seen). The signature
travels in ``X-Warren-Signature`` as lowercase hex, the timestamp in ``X-Warren-Timestamp``.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import threading
import time
from collections.abc import Iterable

TIMESTAMP_HEADER = "X-Warren-Timestamp"
SIGNATURE_HEADER = "X-Warren-Signature"
MAX_SKEW_SECONDS = 60

_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,3})?$")
_SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")


class SignatureError(Exception):
    """A request's signature headers are missing, stale, replayed or do not match."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def canonical_message(method: str, path: str, timestamp: str | int, body: bytes) -> bytes:
    """Return the exact bytes that get signed for one request."""
    body_digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{body_digest}".encode()


def compute_signature(
    secret: str, method: str, path: str, timestamp: str | int, body: bytes
) -> str:
    """Return the lowercase hex HMAC-SHA256 of the canonical message under ``secret``."""
    message = canonical_message(method, path, timestamp, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(
    secret: str, method: str, path: str, body: bytes, *, timestamp: int | str | None = None
) -> dict[str, str]:
    """Return the two headers that authenticate one request."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: compute_signature(secret, method, path, stamp, body),
    }


class ReplayGuard:
    """Remembers every accepted signature until its timestamp can no longer pass the skew check.

    A signature is only worth replaying while its timestamp is within MAX_SKEW_SECONDS of
    the server clock, so forgetting it after ``timestamp + max_skew`` is safe and keeps
    memory bounded by the request rate times two minutes.
    """

    def __init__(self, max_skew: int = MAX_SKEW_SECONDS) -> None:
        self._max_skew = max_skew
        self._seen: set[str] = set()
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def first_use(self, signature: str, timestamp: float, now: float) -> bool:
        """Record ``signature``; return False if it was already used."""
        with self._lock:
            self._forget_expired(now)
            if signature in self._seen:
                return False
            self._seen.add(signature)
            heapq.heappush(self._expiries, (timestamp + self._max_skew, signature))
            return True

    def __len__(self) -> int:
        return len(self._seen)

    def _forget_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] < now:
            _, signature = heapq.heappop(self._expiries)
            self._seen.discard(signature)


def verify_request(
    *,
    secrets: Iterable[str],
    method: str,
    path: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    replay_guard: ReplayGuard,
    now: float | None = None,
    max_skew: int = MAX_SKEW_SECONDS,
) -> None:
    """Raise SignatureError unless the request is fresh, unseen and signed by a current secret.

    Every secret is tried so that a rotation can add the new secret on the agents first,
    then move the callers, then drop the old one, without a refused request in between.
    """
    if not timestamp_header or not signature_header:
        raise SignatureError(
            "missing_signature",
            f"both {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required",
        )
    if not _TIMESTAMP_RE.match(timestamp_header):
        raise SignatureError(
            "bad_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds (up to 3 decimals)"
        )
    timestamp = float(timestamp_header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > max_skew:
        raise SignatureError(
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} is {current - timestamp:+.0f} s from the agent's clock "
            f"(limit {max_skew} s)",
        )
    signature = signature_header.strip().lower()
    if not _SIGNATURE_RE.match(signature):
        raise SignatureError("bad_signature", f"{SIGNATURE_HEADER} must be 64 hex digits")
    expected = [compute_signature(s, method, path, timestamp_header, body) for s in secrets]
    # Compare against every secret, without stopping early, so timing says nothing about
    # which secret (if any) was close.
    matches = [hmac.compare_digest(candidate, signature) for candidate in expected]
    if not any(matches):
        raise SignatureError("bad_signature", "signature does not match any current secret")
    if not replay_guard.first_use(signature, timestamp, current):
        raise SignatureError("replayed_signature", "this signature has already been used")
