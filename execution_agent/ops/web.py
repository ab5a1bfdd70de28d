"""Operations for users' web apps: install from structured settings, reload, remove, logs."""

from __future__ import annotations

import os

from execution_agent.ops import Reply, op
from execution_agent.ops.core import installed_pythons
from execution_agent.validation import Args
from execution_agent.web.render import LOG_KEEP, LOG_KINDS, log_name, plugin_name
from execution_agent.web.spec import check_domain, domain_slug, parse_app

PLUGIN_DIR = "/usr/lib/uwsgi/plugins"


def uwsgi_pythons() -> list[str]:
    """Python versions with both an interpreter and Debian's uWSGI plugin for it."""
    return [
        version
        for version in installed_pythons()
        if os.path.exists(f"{PLUGIN_DIR}/{plugin_name(version)}_plugin.so")
    ]


def _domain(args: Args) -> str:
    return check_domain(args.str("domain", max_chars=253), "args.domain")


@op("web_info")
def web_info(agent, args: Args) -> Reply:
    """What this web server offers: Pythons with a uWSGI plugin, and whether nginx/Emperor run."""
    server = agent.web
    return Reply(
        {
            "pythons": uwsgi_pythons(),
            "port": agent.config.webapps_port,
            "https_port": agent.config.webapps_https_port,
            "wildcard_certificate": server.certificates.wildcard_configured(),
            **server.status(),
        }
    )


@op("web_apply", fields=("user", "app"))
def web_apply(agent, args: Args) -> Reply:
    """Install an app's vassal, nginx block and (if missing) WSGI file without reloading it."""
    spec = parse_app(args, uwsgi_pythons())
    return Reply(agent.web.apply(spec))


@op("web_reload", fields=("user", "app", "timeout"))
def web_reload(agent, args: Args) -> Reply:
    """Apply the settings, touch the WSGI file, and wait for a test request through nginx."""
    timeout = args.number("timeout", minimum=1, maximum=120, default=25)
    spec = parse_app(args, uwsgi_pythons())
    return Reply(agent.web.reload(spec, timeout=timeout))


@op("web_remove", fields=("user", "domain"))
def web_remove(agent, args: Args) -> Reply:
    """Take an app off this web server (its WSGI file and logs are kept)."""
    user = args.user()
    return Reply(agent.web.remove(user, domain_slug(_domain(args))))


@op("web_acme_challenge_set", fields=("domain", "token", "key_authorization"))
def web_acme_challenge_set(agent, args: Args) -> Reply:
    """Answer an ACME HTTP-01 challenge for the domain (served by its site block)."""
    slug = domain_slug(_domain(args))
    agent.web.certificates.challenge_set(
        slug, args.str("token", max_chars=128), args.str("key_authorization", max_chars=256)
    )
    return Reply({})


@op("web_acme_challenge_clear", fields=("domain", "token"))
def web_acme_challenge_clear(agent, args: Args) -> Reply:
    """Stop answering a challenge once the ACME server has validated it (or gave up)."""
    slug = domain_slug(_domain(args))
    removed = agent.web.certificates.challenge_clear(slug, args.str("token", max_chars=128))
    return Reply({"removed": removed})


def _log_file(args: Args) -> tuple[str, str]:
    """(the log's name, the name of the file asked for: the log or one of its rotations)."""
    name = log_name(_domain(args), args.choice("kind", LOG_KINDS))
    rotation = args.int("rotation", minimum=0, maximum=LOG_KEEP, default=0)
    return name, f"{name}.{rotation}" if rotation else name


@op("web_log", fields=("user", "domain", "kind", "max_bytes", "rotation"))
def web_log(agent, args: Args) -> Reply:
    """The end of one of an app's logs (access, error or server), or of one of its previous
    files (rotation 1 is the newest), read as the user; with the previous files there are."""
    user = args.user()
    name, path = _log_file(args)
    max_bytes = args.int("max_bytes", minimum=1, maximum=1 << 20, default=64 * 1024)
    logs = agent.web.logs
    return Reply(
        {
            "text": logs.tail(user, path, max_bytes),
            "size": logs.log_size(user, path),
            "previous": logs.previous(user, name),
        }
    )


@op("web_log_open", fields=("user", "domain", "kind", "rotation"))
def web_log_open(agent, args: Args) -> Reply:
    """Open one of an app's logs (or a previous file of it) as the user and pass its fd back
    (for downloads)."""
    user = args.user()
    _, path = _log_file(args)
    fd = agent.web.logs.open_log(user, path)
    return Reply({"size": os.fstat(fd).st_size}, fds=[("file", fd)])
