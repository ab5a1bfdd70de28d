"""The Web tab's adapter for the web server's execution agent: settings out, files as the user.

The agent renders every configuration file itself; Django only ever sends the structured
settings built by ``app_settings``. Failures come out as AgentError/AgentUnavailable
(re-exported here), except the form checks (check_directory, check_virtualenv), which raise
AppError; quickstart.py writes the hello project with the client ``files_agent`` gives it.

One idiom for Django talking to an agent (servers/agents.py says it in full): an adapter
module per app turns Warren's objects into agent calls, one function each; services and
selectors call those, never a client's methods, and word the agent's errors for the user.
"""

import os
import re

from accounts.home_paths import home_path_relative
from config.errors import AppError
from execution_agent.client import AgentClient
from execution_agent.web.render import LOG_KEEP, LOG_KINDS, LOG_MAX_BYTES
from servers.agents import AgentError, AgentUnavailable, execution_agent, user_ref
from servers.models import Server
from servers.selectors import first_active_server
from webapps.models import WebApp

# Reload waits up to this long for the app, plus the agent's own work.
RELOAD_TIMEOUT = 25
CLIENT_TIMEOUT = 60
PYVENV_VERSION_RE = re.compile(r"^\s*(version|version_info)\s*=\s*(\d+)\.(\d+)", re.MULTILINE)

# Module and callable each quick-start's WSGI file imports (PythonAnywhere's names).
QUICKSTART_ENTRY = {
    WebApp.Framework.FLASK: ("flask_app", "app"),
    WebApp.Framework.BOTTLE: ("bottle_app", "application"),
    WebApp.Framework.DJANGO: ("mysite", "application"),
    WebApp.Framework.MANUAL: ("wsgi", "application"),
}

__all__ = [
    "LOG_KEEP",
    "LOG_KINDS",
    "LOG_MAX_BYTES",
    "AgentError",
    "AgentUnavailable",
    "web_agent",
]


def web_agent(server: Server | None = None) -> AgentClient:
    """A client for the web server's execution agent, patient enough for a reload."""
    client = execution_agent(server, kind=Server.Kind.WEB)
    client.timeout = CLIENT_TIMEOUT
    return client


def files_agent() -> AgentClient:
    """The web server's agent for the user's files (the checks below, quickstart's project)."""
    return execution_agent(kind=Server.Kind.WEB)


def reload(webapp: WebApp, *, app: dict) -> dict:
    """Apply ``app`` (app_settings) on the app's web server and test the site: the answer."""
    return web_agent(webapp.server).web_reload(user=user_ref(webapp.user), app=app)


def stop_user(server: Server, user) -> dict:
    """Stop every web app vassal of ``user`` on ``server`` until its next reload (a home move's
    final pass: no worker may write to the old copy)."""
    return web_agent(server).web_stop(user=user_ref(user))


def apply(webapp: WebApp, *, app: dict) -> dict:
    """Install ``app`` on the app's web server without reloading the app (a new certificate)."""
    return web_agent(webapp.server).web_apply(user=user_ref(webapp.user), app=app)


def acme_publish(webapp: WebApp, *, domain: str, token: str, answer: str) -> None:
    """Serve an ACME HTTP-01 answer for domain from the app's web server."""
    web_agent(webapp.server).web_acme_challenge_set(
        domain=domain, token=token, key_authorization=answer
    )


def acme_withdraw(webapp: WebApp, *, domain: str, token: str) -> None:
    web_agent(webapp.server).web_acme_challenge_clear(domain=domain, token=token)


def remove(webapp: WebApp, *, domain: str | None = None) -> None:
    """Take ``domain`` (the app's own unless given) off the app's web server."""
    web_agent(webapp.server).web_remove(user=user_ref(webapp.user), domain=domain or webapp.domain)


def log_read(webapp: WebApp, *, kind: str, max_bytes: int, rotation: int) -> dict:
    """The tail of one of the app's logs (or of a previous file), as the agent answers it."""
    return web_agent(webapp.server).web_log(
        user=user_ref(webapp.user),
        domain=webapp.domain,
        kind=kind,
        max_bytes=max_bytes,
        rotation=rotation,
    )


def log_open(webapp: WebApp, *, kind: str, rotation: int) -> tuple[int, int]:
    """(fd, size) of one of the app's whole logs, opened as the user."""
    return web_agent(webapp.server).web_log_open(
        user=user_ref(webapp.user), domain=webapp.domain, kind=kind, rotation=rotation
    )


def available_pythons() -> list[str]:
    """Python versions the web server has a uWSGI plugin for (empty if it is unreachable)."""
    # The server a new app goes to (webapp_create), not this machine's agent: the dashboard
    # may run where no web server does.
    try:
        return web_agent(first_active_server(kind=Server.Kind.WEB)).web_info()["pythons"]
    except (AgentError, AgentUnavailable):
        return []


def app_settings(webapp: WebApp, *, with_template: bool = True) -> dict:
    """The structured settings the agent's web_apply/web_reload accept."""
    mappings = [
        {"url": mapping.url, "directory": mapping.directory, "dotfiles": mapping.dotfiles}
        for mapping in webapp.static_mappings.all()
    ]
    auth = None
    if webapp.password_protected:
        auth = {"username": webapp.auth_username, "password_hash": webapp.auth_password_hash}
    template = None
    if with_template:
        module, attribute = QUICKSTART_ENTRY[webapp.framework]
        if webapp.framework == WebApp.Framework.DJANGO and webapp.source_dir:
            module = webapp.source_dir.rstrip("/").rsplit("/", 1)[-1]  # the project's package
        template = {
            "framework": webapp.framework,
            "project_dir": webapp.source_dir or webapp.user.home_path,
            "module": module,
            "callable": attribute,
            "site_url": webapp.url,
        }
    return {
        "domain": webapp.domain,
        "enabled": webapp.enabled,
        "python": webapp.python_version,
        "processes": webapp.workers,
        "working_dir": webapp.working_dir,
        "virtualenv": webapp.virtualenv or None,
        "static": mappings,
        "auth": auth,
        "force_https": webapp.force_https,
        "wsgi_template": template,
        "tls": tls_settings(webapp),
    }


def tls_settings(webapp: WebApp, *, certificate=None) -> dict | None:
    """HTTPS for the app: the operator's wildcard for <user>.<WARREN_WEBAPPS_DOMAIN>, the
    app's own certificate (``certificate``: a Certificate or CheckedCertificate to use
    instead of the stored one), or none."""
    hsts = {"hsts_max_age": webapp.hsts_max_age}
    if webapp.own_address:
        return {"wildcard": True, **hsts}
    if certificate is None:
        stored = getattr(webapp, "certificate", None)  # the reverse one-to-one, or None
        certificate = stored if stored is not None and stored.serving else None
    if certificate is None:
        return None
    return {"certificate": certificate.chain_pem, "key": certificate.key_pem, **hsts}


def check_directory(user, path: str, *, what: str) -> None:
    """The directory exists in the user's home; symlinks leading out of it are refused."""
    try:
        files_agent().fs_list(user=user_ref(user), path=home_path_relative(user, path))
    except AgentError as exc:
        if exc.code == "forbidden":
            raise AppError(f"The {what} {path} leads out of your home.") from None
        raise AppError(f"The {what} {path} does not exist or is not a directory.") from None
    except AgentUnavailable:
        raise AppError("The web server is unreachable; try again in a moment.") from None


def read_text(user, path: str, max_bytes: int = 65536) -> str | None:
    """A small file of the user's, read as the user; None if it cannot be read."""
    try:
        fd, _ = files_agent().fs_open(
            user=user_ref(user), path=home_path_relative(user, path), mode="r"
        )
    except (AgentError, AgentUnavailable):
        return None
    try:
        return os.read(fd, max_bytes).decode("utf-8", "replace")
    finally:
        os.close(fd)


def check_virtualenv(user, path: str) -> None:
    """A virtualenv needs bin/python: uWSGI's `home` is useless without one."""
    check_directory(user, path, what="virtualenv")
    try:
        entries = files_agent().fs_list(
            user=user_ref(user), path=home_path_relative(user, path + "/bin")
        )
    except (AgentError, AgentUnavailable):
        entries = []
    if not any(entry["name"] == "python" for entry in entries):
        raise AppError(f"The virtualenv {path} has no Python (no bin/python).")


def virtualenv_python(user, path: str) -> str | None:
    """The X.Y version a virtualenv was made with, from its pyvenv.cfg (None if unknown)."""
    text = read_text(user, path.rstrip("/") + "/pyvenv.cfg")
    match = PYVENV_VERSION_RE.search(text or "")
    return f"{match.group(2)}.{match.group(3)}" if match else None
