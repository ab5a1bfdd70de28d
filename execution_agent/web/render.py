"""Render web app configuration from validated data: vassal ini, nginx blocks, WSGI files.

Every value substituted here went through execution_agent.web.spec (or is the agent's own
configuration), so the templates can be plain text with no quoting of their own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from string import Template

from execution_agent.web.spec import AppSpec

# uWSGI's own messages; everything else the vassal prints (the app's stdout/stderr,
# tracebacks, per-request errors) goes to the error log instead (PCRE negative look-ahead).
UWSGI_MESSAGE_RE = (
    r"(\*\*\*|\[uwsgi|\[uWSGI\]|uwsgi socket|uWSGI |spawned |mapped |WSGI app \d|Python |"
    r"your |detected |lock engine|thunder lock|current working|compiled with|os: |nodename|"
    r"machine: |clock source|pcre |writing pidfile|chdir\(\)|setgid|setuid|announcing|"
    r"Respawned|Gracefully|gracefully|worker \d+ buried|\.\.\.|Starting|Operational|"
    r"SIGINT|SIGTERM|goodbye|VACUUM|binary reloading|Killing|\[emperor|logsize: |"
    r"DAMN|HARAKIRI|harakiri|\[busyness|added |Set PythonHome|Python main interpreter|"
    r"Python threads|python threads|TIMEOUT|worker respawn|received message|fsmon|"
    r"WSGI app|\*\*\* no app|found fd \d+ mapped to socket|running /usr/bin/uwsgi|"
    r"setting request body|running .print:warren-config|warren-config )"
)
# Printed by the vassal (hook-post-app) once the app is loaded with this ini: the reload check
# waits for the new ini's line, so "Reloaded" never stands for an instance of the old one.
CONFIG_MARKER = "warren-config"
LOG_KINDS = ("access", "error", "server")
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_KEEP = 5  # previous files of each log: <name>.1 (newest) to <name>.5
# The fd on which a vassal inherits its listening socket from the wrapper.
SOCKET_FD = 3
SANDBOX_LOG_DIR = "/var/log/webapps"
SANDBOX_CONF_DIR = "/uwsgi"
SANDBOX_VASSAL_INI = f"{SANDBOX_CONF_DIR}/vassal.ini"


def _template(name: str) -> Template:
    text = resources.files("execution_agent.web").joinpath("templates", name).read_text()
    return Template(text)


def plugin_name(python: str) -> str:
    """Debian's plugin for Python 3.11 is python311_plugin.so."""
    return "python" + python.replace(".", "")


def log_name(domain: str, kind: str) -> str:
    return f"{domain}.{kind}.log"


def render_vassal(spec: AppSpec) -> str:
    """The vassal ini: uWSGI as the user, inside the sandbox, paths as the sandbox sees them."""
    values = _vassal_values(spec)
    return _template("vassal.ini").substitute(values, config_marker=_marker(values))


def config_marker(spec: AppSpec) -> bytes:
    """The line the vassal of ``spec``'s ini prints once its app is loaded (CONFIG_MARKER)."""
    return _marker(_vassal_values(spec)).encode()


def _marker(values: dict) -> str:
    # Deterministic: the same settings give the same ini, which then changes nothing.
    generation = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    return f"{CONFIG_MARKER} {generation}"


def _vassal_values(spec: AppSpec) -> dict:
    extra = []
    if spec.virtualenv:
        extra.append(f"virtualenv = {spec.virtualenv}")
    for mapping in spec.static:
        extra.append(f"static-map = {mapping.url.rstrip('/') or '/'}={mapping.directory}")
    if spec.static:
        # Symlinks may point anywhere inside the home; uWSGI refuses to follow any that lead
        # elsewhere (and the sandbox holds nobody else's files to begin with).
        extra.append(f"static-safe = /home/{spec.user.username}")
    logs = {
        kind: f"{SANDBOX_LOG_DIR}/{log_name(spec.domain, kind)}" for kind in ("error", "server")
    }
    return {
        "domain": spec.domain,
        "plugin": plugin_name(spec.python),
        "processes": spec.processes,
        "socket_fd": SOCKET_FD,
        "wsgi_file": spec.wsgi_file,
        "working_dir": spec.working_dir,
        "error_log": logs["error"],
        "server_log": logs["server"],
        "uwsgi_messages": UWSGI_MESSAGE_RE,
        "extra": "\n".join(extra),
    }


@dataclass(frozen=True)
class SiteTls:
    """Where the site's certificate and key are (root's files), and the HSTS max-age."""

    certificate: str
    key: str
    hsts_max_age: int = 0


def render_site(
    spec: AppSpec,
    *,
    access_log: str,
    address: str,
    port: int,
    socket: str,
    htpasswd: str,
    uwsgi_params: str,
    acme_dir: str,
    https_address: str = "",
    https_port: int = 443,
    tls: SiteTls | None = None,
) -> str:
    """The site's nginx server blocks: HTTP, and HTTPS when it has a certificate, both in
    front of its vassal's socket; ACME's HTTP-01 challenges answered from root's directory."""
    redirect = ""
    if spec.force_https:
        # Inside `location /`, not at server level: ACME's challenges must answer over HTTP.
        suffix = "" if https_port == 443 else f":{https_port}"
        redirect = (
            "        if ($warren_https = 0) {\n"
            f"            return 301 https://$host{suffix}$request_uri;\n        }}"
        )
    hidden = "\n".join(
        # Any path segment under the mapping that starts with a dot (nginx matches the
        # decoded, normalised URI, so %2e and /./ are caught too). A regex location wins
        # over `location /`, before uWSGI's static-map sees the request.
        f'    location ~ "^{_regex_literal(mapping.url.rstrip("/"))}(.*/)?\\." {{\n'
        "        return 404;\n    }"
        for mapping in spec.static
        if not mapping.dotfiles
    )
    auth = ""
    if spec.auth is not None:
        auth = f"        auth_basic $warren_auth_realm;\n        auth_basic_user_file {htpasswd};"
    acme = (
        # ^~: no regex location (hidden dotfiles) takes /.well-known/ first; no password.
        "    location ^~ /.well-known/acme-challenge/ {\n"
        f"        alias {acme_dir}/;\n"
        "        default_type text/plain;\n    }"
    )
    common = {
        "domain": spec.domain,
        "socket": socket,
        "uwsgi_params": uwsgi_params,
        "access_log": access_log,
        "hidden_dotfiles": hidden,
        "auth": auth,
        "acme": acme,
    }
    https_server = ""
    if tls is not None:
        hsts = ""
        if tls.hsts_max_age:
            hsts = f'    add_header Strict-Transport-Security "max-age={tls.hsts_max_age}" always;'
        https_server = _template("site-https.conf").substitute(
            **common,
            https_address=_listen_address(https_address),
            https_port=https_port,
            certificate=tls.certificate,
            key=tls.key,
            hsts=hsts,
        )
    return _template("site.conf").substitute(
        **common,
        address=address,
        port=port,
        https_redirect=redirect,
        https_server=https_server,
    )


def _listen_address(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _regex_literal(text: str) -> str:
    """A URL prefix (letters, digits and . _ ~ @ + / -, see web/spec.py) as a PCRE literal."""
    return "".join("\\" + char if char in ".+" else char for char in text)


def render_htpasswd(spec: AppSpec) -> str:
    assert spec.auth is not None
    return f"{spec.auth.username}:{spec.auth.password_hash}\n"


def render_wsgi_file(spec: AppSpec) -> str:
    """A starting WSGI file for the app's framework (the user edits it afterwards)."""
    template = spec.wsgi_template
    framework = template.framework if template else "manual"
    return _template(f"wsgi_{framework}.py.tmpl").substitute(
        domain=spec.domain,
        site_url=template.site_url if template else f"http://{spec.domain}/",
        project_dir=template.project_dir if template else "",
        module=template.module if template else "",
        callable=template.callable if template else "",
    )


def render_nginx_main(
    *,
    web_dir: str,
    address: str,
    port: int,
    https_address: str,
    https_port: int,
    probe_secret: str,
    user_line: str,
) -> str:
    return _template("nginx.conf").substitute(
        web_dir=web_dir,
        address=address,
        port=port,
        https_address=_listen_address(https_address),
        https_port=https_port,
        probe_secret=probe_secret,
        user_line=user_line,
    )


def render_wrapper(*, python: str, specs_dir: str, owner_uid: int, nproc: int) -> str:
    return _template("vassal-wrapper.py.tmpl").substitute(
        python=python, specs_dir=specs_dir, owner_uid=owner_uid, nproc=nproc, socket_fd=SOCKET_FD
    )
