"""A small client for Warren's API (urllib): one method per request, errors as ApiFailure."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote

from warren_cli.config import Config

TIMEOUT_SECONDS = 60


class ApiFailure(Exception):
    """The API refused, or could not be reached; ``str()`` is the sentence to show."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._username: str | None = None

    def request(self, method: str, path: str, *, data=None, raw: bytes | None = None, binary=False):
        """Send a request to ``/api/<path>``; the decoded JSON (or bytes if ``binary``)."""
        headers = {"Authorization": f"Token {self.config.token}", "Accept": "application/json"}
        body = None
        if data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            body = raw
            headers["Content-Type"] = "application/octet-stream"
        url = f"{self.config.url}/api/{path}"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - http(s) only, checked in config
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                content = response.read()
        except urllib.error.HTTPError as error:
            raise _failure(error) from None
        except urllib.error.URLError as error:
            raise ApiFailure(f"Cannot reach {self.config.url}: {error.reason}.") from None
        except TimeoutError:
            raise ApiFailure(f"{self.config.url} did not answer in time.") from None
        if binary:
            return content
        try:
            return json.loads(content or b"null")
        except ValueError:
            raise ApiFailure(
                f"{url} did not answer as Warren's API does: is WARREN_URL right?"
            ) from None

    def user_path(self, rest: str) -> str:
        return f"v1/user/{quote(self.username, safe='')}/{rest}"

    @property
    def username(self) -> str:
        if self._username is None:
            self._username = self.request("GET", "v1/whoami/")["username"]
        return self._username


def _failure(error: urllib.error.HTTPError) -> ApiFailure:
    try:
        body = json.loads(error.read() or b"{}")
        detail = body.get("detail") or body.get("message") or error.reason
    except (ValueError, AttributeError):
        detail = error.reason
    hint = ""
    if error.code == 401:
        hint = " Check WARREN_API_TOKEN (the Account tab lists your tokens)."
    elif error.code == 429:
        hint = f" Retry after {error.headers.get('Retry-After', 'a few')} seconds."
    return ApiFailure(f"{detail}{hint} (HTTP {error.code})", status=error.code)
