"""The one way to tell a user "you can't do that": ``AppError``, and how views answer it.

Services raise ``AppError(message, field=..., status=...)``; views turn it into a form error
(``form.add_error(error.field, error)``) or into a response with ``error_response``. It is a
Django ``ValidationError``, so a form's ``clean_*`` may let it through and Django shows it
beside the field like any other.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect


class AppError(ValidationError):
    """Something the user asked for cannot be done; ``message`` says why, for their eyes.

    ``field`` names the form field it belongs to (None: the form as a whole); ``status`` is
    the HTTP status a response about it carries.
    """

    def __init__(self, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status

    def __str__(self) -> str:
        return self.message


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def error_json(error: AppError) -> JsonResponse:
    """The refusal as the pages' scripts read it: {"ok": false, "error": message}."""
    return JsonResponse({"ok": False, "error": error.message}, status=error.status)


def error_response(request, error: AppError, back, *args):
    """Answer a refused request: JSON to scripts, else a message shown on ``back``.

    ``back`` (and ``args``) is anything ``redirect`` takes: a URL, a view name, a model.
    """
    if wants_json(request):
        return error_json(error)
    messages.error(request, error.message)
    return redirect(back, *args)
