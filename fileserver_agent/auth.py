"""Every request must carry a fresh, unseen signature by one of the configured secrets."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Flask, current_app, request

from fileserver_agent.errors import error_response
from fileserver_agent.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    SignatureError,
    verify_request,
)


def install_request_signing(app: Flask) -> None:
    """Refuse unsigned, stale, replayed or mis-signed requests with 401 before any view runs."""
    # One guard per process: the uWSGI template runs one process with threads for this.
    app.extensions["warren_replay_guard"] = ReplayGuard()
    app.before_request(_verify_signature)


def _verify_signature():
    # Read the body before anything parses it: the signature covers the exact bytes.
    body = request.get_data(cache=True)
    try:
        verify_request(
            secrets=current_app.extensions["warren_config"].secrets,
            method=request.method,
            path=_signed_path(),
            timestamp_header=request.headers.get(TIMESTAMP_HEADER),
            signature_header=request.headers.get(SIGNATURE_HEADER),
            body=body,
            replay_guard=current_app.extensions["warren_replay_guard"],
        )
    except SignatureError as exc:
        current_app.logger.warning("refused %s %s: %s", request.method, request.path, exc.detail)
        return error_response(401, exc.code, exc.detail)
    return None


def _signed_path() -> str:
    """The path exactly as the client sent it: what it signed, before any percent-decoding."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return quote(request.script_root + request.path)
    path = raw.split("?", 1)[0]
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path  # absolute-form request target
    return path
