"""Checks on what users type into the Web tab, with messages they can act on.

The execution agent checks everything again (execution_agent/webspec.py uses the same patterns);
these give a form error before anything is saved or sent.
"""

import base64
import hashlib
import secrets
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.limits import effective_limits
from execution_agent.webspec import (
    AUTH_USER_RE,
    DOMAIN_LABEL_RE,
    SANDBOX_PATH_RE,
    URL_PREFIX_RE,
)
from webapps.models import WebApp


def default_domain(user) -> str:
    """Every user's own address: <username>.<WARREN_WEBAPPS_DOMAIN>."""
    return f"{user.username}.{settings.WARREN_WEBAPPS_DOMAIN}".lower()


def clean_domain(user, raw: str, *, current: WebApp | None = None) -> str:
    """A valid DNS name this user may serve and nobody else has taken."""
    domain = raw.strip().lower().rstrip(".")
    labels = domain.split(".")
    if (
        not 3 <= len(domain) <= 253
        or len(labels) < 2
        or not all(DOMAIN_LABEL_RE.match(label) for label in labels)
    ):
        raise ValidationError(
            "Enter a domain name such as www.example.com: letters, digits and hyphens "
            "between the dots."
        )
    platform = settings.WARREN_WEBAPPS_DOMAIN.lower()
    if domain != default_domain(user):
        if domain == platform or domain.endswith("." + platform):
            raise ValidationError(
                f"Addresses under {platform} belong to their users: yours is "
                f"{default_domain(user)}."
            )
        if not effective_limits(user).custom_domains_allowed:
            raise ValidationError(
                "Your plan does not include custom domains; upgrade to use your own domain."
            )
    taken = WebApp.objects.filter(domain=domain)
    if current is not None:
        taken = taken.exclude(pk=current.pk)
    if taken.exists():
        raise ValidationError(f"{domain} is already taken by another web app.")
    return domain


def clean_home_path(user, raw: str, *, what: str) -> str:
    """An absolute path inside the user's home, normalised, with no '..'."""
    path = raw.strip()
    home = user.home_path
    if not path.startswith("/"):
        path = f"{home}/{path}"
    if not SANDBOX_PATH_RE.match(path):
        raise ValidationError(
            f"The {what} may only contain letters, digits and . _ - @ + / (no spaces)."
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValidationError(f"The {what} may not contain '..'.")
    path = "/" + "/".join(parts)
    if path != home and not path.startswith(home + "/"):
        raise ValidationError(f"The {what} must be inside your home directory, {home}.")
    return path


def clean_url_prefix(raw: str) -> str:
    url = "/" + raw.strip().strip("/") + "/" if raw.strip().strip("/") else "/"
    if not URL_PREFIX_RE.match(url) or "/../" in url or "/./" in url:
        raise ValidationError("Enter a URL path such as /static/ (letters, digits, . _ - ~).")
    return url


def clean_workers(user, value: int) -> int:
    limit = effective_limits(user).max_web_workers_per_app
    if value < 1:
        raise ValidationError("A web app needs at least one worker.")
    if value > limit:
        raise ValidationError(
            f"Your plan allows {limit} worker{'s' if limit != 1 else ''} per web app."
        )
    return value


def clean_auth_username(raw: str) -> str:
    username = raw.strip()
    if not AUTH_USER_RE.match(username):
        raise ValidationError("Usernames for HTTP auth: 1-64 letters, digits or . _ @ -.")
    return username


def hash_password(password: str) -> str:
    """A hash nginx's auth_basic checks with crypt(3): SHA-512 crypt when available."""
    if not password:
        raise ValidationError("Enter a password.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # Deprecated (gone in 3.13): nginx's {SSHA} below stands in then.
            import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    except ImportError:
        salt = secrets.token_bytes(8)
        digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - nginx {SSHA}
        return "{SSHA}" + base64.b64encode(digest + salt).decode()
