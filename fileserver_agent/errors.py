"""Every failure leaves the agent as ``{"error": code, "detail": reason}``, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from fileserver_agent.commands import CommandFailed
from fileserver_agent.quota import QuotaBackendError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the agent refuses, with the HTTP status and a reason for the caller."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def error_response(status: int, code: str, detail: str, **extra: object):
    """Build the JSON error body every failure uses."""
    response = jsonify({"error": code, "detail": detail, **extra})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """Turn every exception into a JSON response; unknown ones are logged, not shown."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.detail)

    @app.errorhandler(CommandFailed)
    def _command_failed(exc: CommandFailed):
        logger.warning("backend command failed: %s", exc)
        return error_response(
            502, "backend_failed", str(exc), command=exc.program, stderr=exc.stderr_excerpt()
        )

    @app.errorhandler(QuotaBackendError)
    def _backend_error(exc: QuotaBackendError):
        logger.warning("quota backend failed: %s", exc)
        return error_response(502, "backend_failed", str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "internal error; the agent's log has details")
