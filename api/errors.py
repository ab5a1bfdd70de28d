"""The API's refusals: one JSON shape, {"error": <code>, "detail": <sentence>}, and its status."""

from __future__ import annotations

from django.http import JsonResponse

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class ApiError(Exception):
    """A refusal raised by the API's own checks (token, content type, JSON, limits)."""

    def __init__(self, status: int, detail: str, *, headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def error_body(status: int, detail: str) -> dict:
    return {"error": CODES.get(status, "error"), "detail": detail}


def api_error_response(status: int, detail: str, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(error_body(status, detail), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def form_errors(form) -> str:
    """A Django form's errors as one sentence per field, for "detail"."""
    parts = []
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field}: "
        parts.append(label + " ".join(str(error) for error in errors))
    return "; ".join(parts)
