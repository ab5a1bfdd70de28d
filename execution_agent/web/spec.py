"""A web app's configuration as the agent accepts it: structured, validated field by field.

Django sends data, never configuration text: everything that ends up in a vassal ini, an nginx
block or a WSGI file is checked here against narrow patterns first, so no value can smuggle a
newline, a `;` or an option of its own into what the agent renders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from execution_agent.errors import bad_request, forbidden
from execution_agent.validation import Args, UserRef

DOMAIN_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Paths end up in ini and nginx files: no spaces, quotes, `;`, `#`, `$` or control characters.
SANDBOX_PATH_RE = re.compile(r"^/[A-Za-z0-9._@+/-]{0,1023}$")
URL_PREFIX_RE = re.compile(r"^/[A-Za-z0-9._~@+/-]{0,255}$")
AUTH_USER_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
# crypt(3) hashes nginx understands (SHA-512, SHA-256, MD5 crypt, Apache's apr1) or {SSHA}.
AUTH_HASH_RE = re.compile(
    r"^(\$(6|5|1|apr1)\$[./A-Za-z0-9$=]{8,200}|\{SSHA\}[A-Za-z0-9+/=]{20,200})$"
)
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PYTHON_RE = re.compile(r"^3\.\d{1,2}$")
FRAMEWORKS = ("flask", "bottle", "django", "manual")
MAX_PROCESSES = 16
MAX_STATIC_MAPPINGS = 20
# PEM blocks only (what nginx reads): no other text can reach the files nginx's master loads.
PEM_RE = re.compile(
    r"^(-----BEGIN [A-Z0-9 ]{1,40}-----\n[A-Za-z0-9+/=\n]{1,65536}"
    r"-----END [A-Z0-9 ]{1,40}-----\n)+\Z"
)
MAX_PEM_CHARS = 64 * 1024
MAX_HSTS_SECONDS = 2 * 365 * 24 * 3600


def check_domain(value: object, field_name: str = "args.app.domain") -> str:
    """A lowercase DNS name of at least two labels, at most 253 characters."""
    if not isinstance(value, str) or not 3 <= len(value) <= 253:
        raise bad_request(f"{field_name}: must be a DNS name of 3 to 253 characters")
    labels = value.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL_RE.match(label) for label in labels):
        raise bad_request(f"{field_name}: {value!r} is not a valid lowercase DNS name")
    return value


def domain_slug(domain: str) -> str:
    """The name PythonAnywhere's users know: dots become underscores (DNS names have none)."""
    return domain.replace(".", "_")


def check_sandbox_path(value: object, user: UserRef, field_name: str) -> str:
    """An absolute path inside the user's home as the sandbox sees it, normalised."""
    if not isinstance(value, str) or not SANDBOX_PATH_RE.match(value):
        raise bad_request(
            f"{field_name}: must be an absolute path of letters, digits and . _ - @ + /"
        )
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise forbidden(f"{field_name}: '..' is not allowed")
    home = f"/home/{user.username}"
    normalized = "/" + "/".join(parts)
    if normalized != home and not normalized.startswith(home + "/"):
        raise forbidden(f"{field_name}: must be inside {home}")
    return normalized


@dataclass(frozen=True)
class StaticMapping:
    url: str
    directory: str  # inside the sandbox, under the home
    # Serve names starting with a dot (.git, .env, .bash_history) too: off unless asked for.
    dotfiles: bool = False


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password_hash: str


@dataclass(frozen=True)
class Tls:
    """HTTPS for the site: the operator's wildcard certificate, or the site's own PEMs."""

    wildcard: bool = False
    certificate: str = ""  # the chain, leaf first
    key: str = ""
    hsts_max_age: int = 0  # seconds; 0 sends no Strict-Transport-Security header


@dataclass(frozen=True)
class WsgiTemplate:
    framework: str
    project_dir: str  # inside the sandbox, under the home
    module: str
    callable: str
    site_url: str = ""  # for the file's opening comment: the address with its port


@dataclass(frozen=True)
class AppSpec:
    user: UserRef
    domain: str
    enabled: bool
    python: str
    processes: int
    working_dir: str
    virtualenv: str | None
    static: tuple[StaticMapping, ...] = ()
    auth: BasicAuth | None = None
    force_https: bool = False
    wsgi_template: WsgiTemplate | None = field(default=None, compare=False)
    tls: Tls | None = None

    @property
    def slug(self) -> str:
        return domain_slug(self.domain)

    @property
    def wsgi_file(self) -> str:
        """The WSGI file as the sandbox sees it."""
        return f"/var/www/{self.slug}_wsgi.py"

    @property
    def wsgi_file_name(self) -> str:
        return f"{self.slug}_wsgi.py"


APP_FIELDS = {
    "domain",
    "enabled",
    "python",
    "processes",
    "working_dir",
    "virtualenv",
    "static",
    "auth",
    "force_https",
    "wsgi_template",
    "tls",
}


def _sub(value: object, name: str, allowed: set[str], uid_base: int) -> Args:
    if not isinstance(value, dict):
        raise bad_request(f"{name}: must be an object")
    return Args(value, frozenset(allowed), uid_base)


def parse_app(args: Args, pythons: list[str]) -> AppSpec:
    """The `app` argument of web_apply, every field checked."""
    user = args.user()
    raw = args.raw.get("app")
    app = _sub(raw, "args.app", APP_FIELDS, args.uid_base)
    python = app.str("python", pattern=PYTHON_RE)
    if python not in pythons:
        available = ", ".join(pythons) or "none"
        raise bad_request(f"args.app.python: no uWSGI plugin for Python {python} ({available})")
    virtualenv = app.raw.get("virtualenv")
    domain = check_domain(app.str("domain", max_chars=253))
    return AppSpec(
        user=user,
        domain=domain,
        enabled=app.bool("enabled"),
        python=python,
        processes=app.int("processes", minimum=1, maximum=MAX_PROCESSES),
        working_dir=check_sandbox_path(app.raw.get("working_dir"), user, "args.app.working_dir"),
        virtualenv=None
        if virtualenv in (None, "")
        else check_sandbox_path(virtualenv, user, "args.app.virtualenv"),
        static=_parse_static(app.raw.get("static", []), user),
        auth=_parse_auth(app.raw.get("auth"), args.uid_base),
        force_https=app.bool("force_https", default=False),
        wsgi_template=_parse_template(app.raw.get("wsgi_template"), user, args.uid_base, domain),
        tls=_parse_tls(app.raw.get("tls"), args.uid_base),
    )


def _parse_tls(value: object, uid_base: int) -> Tls | None:
    if value is None:
        return None
    fields = {"wildcard", "certificate", "key", "hsts_max_age"}
    tls = _sub(value, "args.app.tls", fields, uid_base)
    hsts = tls.int("hsts_max_age", minimum=0, maximum=MAX_HSTS_SECONDS, default=0)
    if tls.bool("wildcard", default=False):
        if tls.has("certificate") or tls.has("key"):
            raise bad_request("args.app.tls: wildcard takes no certificate or key")
        return Tls(wildcard=True, hsts_max_age=hsts)
    certificate = _pem(tls, "certificate")
    key = _pem(tls, "key")
    if "PRIVATE KEY-----" not in key or "PRIVATE KEY" in certificate:
        raise bad_request("args.app.tls: the key must be a private key, the certificate none")
    return Tls(certificate=certificate, key=key, hsts_max_age=hsts)


def _pem(tls: Args, name: str) -> str:
    value = tls.raw.get(name)
    if not isinstance(value, str) or len(value) > MAX_PEM_CHARS or not PEM_RE.match(value):
        raise bad_request(f"args.app.tls.{name}: must be PEM text of at most {MAX_PEM_CHARS}")
    return value


def _parse_static(value: object, user: UserRef) -> tuple[StaticMapping, ...]:
    if not isinstance(value, list) or len(value) > MAX_STATIC_MAPPINGS:
        raise bad_request(f"args.app.static: must be a list of at most {MAX_STATIC_MAPPINGS}")
    mappings, seen = [], set()
    for index, item in enumerate(value):
        name = f"args.app.static[{index}]"
        if not isinstance(item, dict) or not {"url", "directory"} <= set(item) <= {
            "url",
            "directory",
            "dotfiles",
        }:
            raise bad_request(f"{name}: must be an object of url, directory and dotfiles")
        dotfiles = item.get("dotfiles", False)
        if not isinstance(dotfiles, bool):
            raise bad_request(f"{name}.dotfiles: must be true or false")
        url = item["url"]
        if not isinstance(url, str) or not URL_PREFIX_RE.match(url) or "/../" in url + "/":
            raise bad_request(f"{name}.url: must be a URL path such as /static/")
        if url in seen:
            raise bad_request(f"{name}.url: {url} is mapped twice")
        seen.add(url)
        directory = check_sandbox_path(item["directory"], user, f"{name}.directory")
        mappings.append(StaticMapping(url=url, directory=directory, dotfiles=dotfiles))
    return tuple(mappings)


def _parse_auth(value: object, uid_base: int) -> BasicAuth | None:
    if value is None:
        return None
    auth = _sub(value, "args.app.auth", {"username", "password_hash"}, uid_base)
    return BasicAuth(
        username=auth.str("username", pattern=AUTH_USER_RE),
        password_hash=auth.str("password_hash", pattern=AUTH_HASH_RE, max_chars=300),
    )


def _parse_template(
    value: object, user: UserRef, uid_base: int, domain: str
) -> WsgiTemplate | None:
    if value is None:
        return None
    fields = {"framework", "project_dir", "module", "callable", "site_url"}
    template = _sub(value, "args.app.wsgi_template", fields, uid_base)
    # It lands in a comment line of the WSGI file: only this app's own URL, nothing else.
    site_url_re = re.compile(rf"^https?://{re.escape(domain)}(:[0-9]{{1,5}})?/\Z")
    return WsgiTemplate(
        framework=template.choice("framework", FRAMEWORKS),
        project_dir=check_sandbox_path(
            template.raw.get("project_dir"), user, "args.app.wsgi_template.project_dir"
        ),
        module=template.str("module", pattern=IDENTIFIER_RE),
        callable=template.str("callable", pattern=IDENTIFIER_RE),
        site_url=template.str("site_url", pattern=site_url_re, default=f"http://{domain}/"),
    )
