"""The HTTP API (django-ninja): one NinjaAPI at /api/, its errors and its routers.

Every operation needs a token (api.guard.TokenAuth). Errors all have one shape,
{"error": <code>, "detail": <sentence>}: the services' AppError keeps its status and message,
a 404 from accounts.access stays a 404 (someone else's things look like nothing at all),
and the body's validation problems are a 400.
"""

from __future__ import annotations

from django.http import Http404
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.endpoints import consoles, cpu, databases, files, schedules, students, webapps
from api.endpoints.common import responses
from api.errors import ApiError, api_error_response
from api.guard import TokenAuth
from config.errors import AppError

api = NinjaAPI(
    title="Warren API",
    version="1",
    description=(
        "Scripts' way into Warren. Send your token (Account tab) as the header "
        '`Authorization: Token <token>`. Errors are `{"error": code, "detail": sentence}`.'
    ),
    auth=TokenAuth(),
    openapi_url="/schema/",
    docs_url="/docs/",
    urls_namespace="api",
)

for module in (consoles, files, webapps, schedules, databases, cpu, students):
    api.add_router("/v1/user/", module.router)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return api_error_response(exc.status, exc.detail, exc.headers)


@api.exception_handler(AppError)
def _app_error(request, exc: AppError):
    return api_error_response(exc.status, exc.message)


@api.exception_handler(Http404)
def _not_found(request, exc: Http404):
    return api_error_response(404, str(exc) or "Not found.")


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc: AuthenticationError):
    return api_error_response(401, "Send your API token as 'Authorization: Token <token>'.")


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    problems = []
    for error in exc.errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body",))
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
    return api_error_response(400, "; ".join(problems) or "The request is not valid.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return api_error_response(exc.status_code, str(exc))


class WhoAmI(Schema):
    username: str


@api.get("/v1/whoami/", response=responses(200, WhoAmI), tags=["account"])
def whoami(request):
    """The user the token belongs to (what the URLs' {username} is for your own things)."""
    return {"username": request.auth.username}
