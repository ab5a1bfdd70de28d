"""Checks on what users type into the Web tab, with messages they can act on.

The execution agent checks everything again (execution_agent/web/spec.py uses the same patterns);
these give a form error before anything is saved or sent.
"""

import base64
import contextlib
import hashlib
import ipaddress
import re
import secrets
import warnings

from django.conf import settings

from accounts.home_paths import home_path_parse
from accounts.limits import effective_limits
from config.errors import AppError
from execution_agent.web.spec import (
    AUTH_USER_RE,
    DOMAIN_LABEL_RE,
    SANDBOX_PATH_RE,
    URL_PREFIX_RE,
)
from servers.models import Server
from webapps.models import WebApp

# A label browsers parse as a number (decimal, octal or 0x hex), making the host an IPv4 address.
NUMERIC_LABEL_RE = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def default_domain(user) -> str:
    """Every user's own address: <username>.<WARREN_WEBAPPS_DOMAIN>."""
    return f"{user.username}.{settings.WARREN_WEBAPPS_DOMAIN}".lower()


def clean_domain(user, raw: str, *, current: WebApp | None = None) -> str:
    """A valid DNS name this user may serve and nobody else has taken."""
    domain = _parse_dns_name(raw)
    if domain != default_domain(user):
        _refuse_reserved(user, domain)
        if not effective_limits(user).custom_domains_allowed:
            raise AppError(
                "Your plan does not include custom domains; upgrade to use your own domain."
            )
    taken = WebApp.objects.filter(domain=domain)
    if current is not None:
        taken = taken.exclude(pk=current.pk)
    if taken.exists():
        raise AppError(f"{domain} is already taken by another web app.")
    return domain


def _parse_dns_name(raw: str) -> str:
    """A lowercase host name of two or more labels, refusing IP addresses in any spelling."""
    domain = raw.strip().lower()
    if _is_ip_literal(domain):
        raise AppError(
            f"{raw.strip()} is an IP address: a web app needs a domain name such as "
            "www.example.com (sites on one IP address share their cookies)."
        )
    domain = domain.removesuffix(".")
    labels = domain.split(".")
    if len(domain) > 253:
        raise AppError("A domain name may be at most 253 characters long.")
    if any(len(label) > 63 for label in labels):
        raise AppError("Each part of a domain name between dots may be at most 63 characters.")
    if not all(DOMAIN_LABEL_RE.match(label) for label in labels):
        raise AppError(
            "Enter a domain name such as www.example.com: letters, digits and hyphens "
            "between the dots."
        )
    if len(labels) < 2:
        raise AppError(
            f"{domain} is not a full domain name: enter one with a dot, such as www.example.com."
        )
    return domain


def _is_ip_literal(host: str) -> bool:
    """True for what a browser would read as an IP address: 127.0.0.1, ::1, 2130706433,
    0x7f.1, 127.1, 0177.0.0.1 (a URL host whose last label is a number is IPv4, per WHATWG)."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        return True
    last = host.removesuffix(".").rsplit(".", 1)[-1]
    return bool(NUMERIC_LABEL_RE.match(last))


def _refuse_reserved(user, domain: str) -> None:
    """Names that would share cookies with Warren or another user: never a custom domain."""
    platform = settings.WARREN_WEBAPPS_DOMAIN.lower().strip(".")
    if _related(domain, platform):
        raise AppError(
            f"Addresses under {platform} belong to their users: yours is {default_domain(user)}."
        )
    if domain == "localhost" or domain.endswith(".localhost"):
        raise AppError(f"{domain} always means the visitor's own computer: use a domain you own.")
    for host in warren_host_names():
        if _related(domain, host):
            raise AppError(
                f"{domain} is {settings.WARREN_SITE_NAME}'s own address or shares its domain: "
                "use a domain you own."
            )


def _related(domain: str, other: str) -> bool:
    """The same name, one under the other: either can set cookies the other receives."""
    return domain == other or domain.endswith("." + other) or other.endswith("." + domain)


def warren_host_names() -> set[str]:
    """The dashboard's host names and cookie domains, and the machines' names."""
    hosts = {host.lstrip(".") for host in settings.ALLOWED_HOSTS if host != "*"}
    for name in ("SESSION_COOKIE_DOMAIN", "CSRF_COOKIE_DOMAIN", "LANGUAGE_COOKIE_DOMAIN"):
        hosts.add(getattr(settings, name, None) or "")
    hosts.update(settings.WARREN_LOCAL_HOSTNAMES)
    hosts.update(Server.objects.values_list("hostname", flat=True))
    names = {host.lower().strip(".") for host in hosts}
    return {name for name in names if name and not _is_ip_literal(name.strip("[]"))}


def clean_home_path(user, raw: str, *, what: str) -> str:
    """An absolute path inside the user's home (accounts.home_paths), in the characters the
    agent's web settings accept (no spaces: they end up in nginx and uWSGI configuration)."""
    path = raw.strip()
    if not SANDBOX_PATH_RE.match(path if path.startswith("/") else f"{user.home_path}/{path}"):
        raise AppError(f"The {what} may only contain letters, digits and . _ - @ + / (no spaces).")
    return home_path_parse(user, path, what=what)


def clean_url_prefix(raw: str) -> str:
    url = "/" + raw.strip().strip("/") + "/" if raw.strip().strip("/") else "/"
    if not URL_PREFIX_RE.match(url) or "/../" in url or "/./" in url:
        raise AppError("Enter a URL path such as /static/ (letters, digits, . _ - ~).")
    return url


def clean_workers(user, value: int) -> int:
    limit = effective_limits(user).max_web_workers_per_app
    if value < 1:
        raise AppError("A web app needs at least one worker.")
    if value > limit:
        raise AppError(f"Your plan allows {limit} worker{'s' if limit != 1 else ''} per web app.")
    return value


def clean_auth_username(raw: str) -> str:
    username = raw.strip()
    if not AUTH_USER_RE.match(username):
        raise AppError("Usernames for HTTP auth: 1-64 letters, digits or . _ @ -.")
    return username


def hash_password(password: str) -> str:
    """A hash nginx's auth_basic checks with crypt(3): SHA-512 crypt when available."""
    if not password:
        raise AppError("Enter a password.")
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
