"""A small typed client for the fileserver agent's v1 API, for Warren's Django side and tools.

Every call signs its request (see signing.py). Failures raise one of three exception
types so callers can decide what to retry:

* FileserverUnreachable: no HTTP answer at all (refused, DNS, timeout). Retry with backoff.
* FileserverRequestError (status 4xx): the agent refused the request; retrying the same
  request will not help. FileserverAuthError (401) is the subclass for signing problems.
* FileserverServerError (status 5xx): the agent or its quota tool failed (502 carries the
  tool's stderr). Usually worth retrying later.

The agent refuses a signature it has already accepted, and two identical requests signed
with the same timestamp would carry the same one; the client therefore gives each repeat of
an identical request the next free millisecond (never more than 50 s ahead, inside the
agent's 60 s window) and re-signs once more if another process got there first.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from fileserver_agent.quota import QuotaLimits, Usage  # stdlib only, shared with the agent
from fileserver_agent.signing import MAX_SKEW_SECONDS, signature_headers

# The agent refuses a signature it has seen; identical requests in the same millisecond
# would share one, so the client steps the timestamp forward, staying this far inside the skew.
_SKEW_MARGIN_SECONDS = 10
_REPLAY_RETRIES = 3


class FileserverError(Exception):
    """Base class for every failure talking to a fileserver agent."""


class FileserverUnreachable(FileserverError):
    """The agent could not be reached or did not answer in time."""


class FileserverResponseError(FileserverError):
    """The agent answered with an error status; ``code`` and ``detail`` come from its JSON."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body


class FileserverRequestError(FileserverResponseError):
    """A 4xx: the request itself was refused (bad input, conflict, signature)."""


class FileserverAuthError(FileserverRequestError):
    """A 401: the signature was missing, stale, replayed or made with an unknown secret."""


class FileserverServerError(FileserverResponseError):
    """A 5xx: the agent or its backend failed; ``body.get("stderr")`` has the tool's words."""


@dataclass(frozen=True)
class Home:
    """A user's home as the agent reports it."""

    username: str
    uid: int
    gid: int
    path: str
    www_path: str
    created: bool


# Granting on a large home walks every file: longer than an ordinary request may take.
ACL_TIMEOUT_SECONDS = 650.0
# A move's first pass copies a whole home.
SYNC_TIMEOUT_SECONDS = 3650.0


class FileserverClient:
    """Talks to one fileserver agent at ``base_url`` (e.g. ``http://10.0.0.5:8701``)."""

    def __init__(self, base_url: str, secret: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._path_prefix = urlsplit(self.base_url).path
        self._secret = secret
        self.timeout = timeout
        self._session = requests.Session()
        self._last_timestamps: dict[str, int] = {}  # request digest -> Unix milliseconds
        self._lock = threading.Lock()

    def create_home(self, username: str, *, uid: int, gid: int) -> Home:
        """Create (or confirm) ``/home/<username>`` owned by uid:gid, with its skeleton."""
        body = self._request("POST", f"/v1/homes/{username}", {"uid": uid, "gid": gid})
        return Home(**{field: body[field] for field in Home.__dataclass_fields__})

    def home_acl(self, username: str, *, owner_uid: int, grantee_uid: int, grant: bool) -> dict:
        """Grant or revoke ``grantee_uid`` (rwX, recursive, default ACLs) on a home."""
        method = "PUT" if grant else "DELETE"
        path = f"/v1/homes/{username}/acl/{grantee_uid}"
        return self._request(method, path, {"uid": owner_uid}, timeout=ACL_TIMEOUT_SECONDS)

    def set_quota(self, uid: int, *, soft_bytes: int, hard_bytes: int) -> QuotaLimits:
        """Apply one user's limits; returns them as applied (ext4 rounds up to KiB)."""
        limits = {"soft_bytes": soft_bytes, "hard_bytes": hard_bytes}
        body = self._request("PUT", f"/v1/quotas/{uid}", limits)
        return QuotaLimits(body["uid"], body["soft_bytes"], body["hard_bytes"])

    def set_quotas(self, quotas: Iterable[QuotaLimits], *, timeout: float | None = None) -> int:
        """Apply many users' limits in one call; returns how many the agent applied.

        ``timeout`` overrides the client's for this call: setquota -b over tens of
        thousands of users can take longer than an ordinary request.
        """
        entries = [
            {"uid": q.uid, "soft_bytes": q.soft_bytes, "hard_bytes": q.hard_bytes} for q in quotas
        ]
        return self._request("PUT", "/v1/quotas", entries, timeout=timeout)["applied"]

    def get_usage(self, uid: int) -> Usage:
        """Return the user's used bytes and limits."""
        body = self._request("GET", f"/v1/usage/{uid}")
        return Usage(body["used_bytes"], body["soft_bytes"], body["hard_bytes"], body["backend"])

    def snapshot_list(self, username: str, *, uid: int, path: str) -> dict[str, Any]:
        """A folder of last night's copy of a home: ``{path, entries: [...], truncated}``."""
        body = {"uid": uid, "path": path}
        return self._request("POST", f"/v1/homes/{username}/snapshot/list", body)

    def snapshot_restore(self, username: str, *, uid: int, path: str, target: str) -> dict:
        """Copy ``path`` of last night's copy to the new ``target`` in the home, as its owner."""
        body = {"uid": uid, "path": path, "target": target}
        return self._request(
            "POST", f"/v1/homes/{username}/snapshot/restore", body, timeout=ACL_TIMEOUT_SECONDS
        )

    def home_sync(self, username: str, *, uid: int, homes: str, www: str) -> float:
        """One rsync pass of the home and web directory to another server's roots; seconds."""
        body = {"uid": uid, "homes": homes, "www": www}
        path = f"/v1/homes/{username}/sync"
        return self._request("POST", path, body, timeout=SYNC_TIMEOUT_SECONDS)["seconds"]

    def health(self) -> dict[str, Any]:
        """Return the agent's health report; raises FileserverServerError (503) when unhealthy."""
        return self._request("GET", "/v1/health")

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> FileserverClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(
        self, method: str, path: str, payload: Any = None, *, timeout: float | None = None
    ) -> Any:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        signed_path = self._path_prefix + path
        for attempt in range(_REPLAY_RETRIES + 1):
            timestamp = self._unique_timestamp(method, signed_path, body)
            headers = signature_headers(
                self._secret, method, signed_path, body, timestamp=timestamp
            )
            if payload is not None:
                headers["Content-Type"] = "application/json"
            response = self._send(method, self.base_url + path, body, headers, timeout)
            try:
                return _decode(response)
            except FileserverAuthError as exc:
                # Another process of ours sent the same request in the same second; a new
                # timestamp makes ours distinct. Anything else is a real auth problem.
                if exc.code != "replayed_signature" or attempt == _REPLAY_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _send(
        self, method: str, url: str, body: bytes, headers: dict[str, str], timeout: float | None
    ):
        try:
            return self._session.request(
                method, url, data=body, headers=headers, timeout=timeout or self.timeout
            )
        except requests.RequestException as exc:
            raise FileserverUnreachable(f"{method} {url}: {exc}") from exc

    def _unique_timestamp(self, method: str, path: str, body: bytes) -> str:
        """A timestamp no earlier request of ours with the same bytes used (milliseconds)."""
        key = hashlib.sha256(f"{method}\n{path}\n".encode() + body).hexdigest()
        ahead_ms = (MAX_SKEW_SECONDS - _SKEW_MARGIN_SECONDS) * 1000
        while True:
            now_ms = int(time.time() * 1000)
            with self._lock:
                self._forget_old_timestamps(now_ms)
                candidate = max(now_ms, self._last_timestamps.get(key, now_ms - 1) + 1)
                if candidate <= now_ms + ahead_ms:
                    self._last_timestamps[key] = candidate
                    return f"{candidate // 1000}.{candidate % 1000:03d}"
            time.sleep(0.01)

    def _forget_old_timestamps(self, now_ms: int) -> None:
        if len(self._last_timestamps) > 10_000:
            cutoff = now_ms - MAX_SKEW_SECONDS * 1000
            self._last_timestamps = {
                key: stamp for key, stamp in self._last_timestamps.items() if stamp >= cutoff
            }


def _decode(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code < 400 and body is not None:
        return body
    details = body if isinstance(body, dict) else {}
    code = str(details.get("error", "http_error"))
    detail = str(details.get("detail", response.text[:300] or response.reason))
    status = response.status_code
    if status == 401:
        raise FileserverAuthError(status, code, detail, details)
    if 400 <= status < 500:
        raise FileserverRequestError(status, code, detail, details)
    raise FileserverServerError(status, code, detail, details)
