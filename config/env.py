"""Read configuration from the environment, failing loudly on malformed values.

This is the only module that reads ``os.environ`` for Django settings. Every helper
raises ``ImproperlyConfigured`` naming the variable, so a typo stops start-up with a
message instead of running with a surprising default (habit borrowed from healthchecks).
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    path = Path(raw)
    if not path.is_absolute():
        raise ImproperlyConfigured(f"{name} must be an absolute path, got {raw!r}")
    return path


def env_url(name: str, schemes: tuple[str, ...]) -> str | None:
    """Return the URL in ``name`` if set, after checking its scheme and host."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must start with {' or '.join(s + '://' for s in schemes)}; got {raw!r}"
        )
    if not parts.hostname and parts.scheme not in ("unix", "sqlite"):
        raise ImproperlyConfigured(f"{name} has no host: {raw!r}")
    return raw


def database_config(name: str, sqlite_path: Path) -> dict:
    """The DATABASES['default'] entry: DATABASE_URL if set, else SQLite under var/."""
    url = env_url(name, ("postgres", "postgresql", "sqlite"))
    if url is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(sqlite_path),
            # A file (not :memory:) so that live-server tests can share it with subprocesses.
            "TEST": {"NAME": str(sqlite_path.with_name("test-" + sqlite_path.name))},
            # WAL: the web process, Celery and the agents' callers read while one of them
            # writes, and a commit appends to the log instead of syncing the database and its
            # journal (synchronous=NORMAL: a power cut may lose the last commits, never
            # consistency). Connections stay open across requests, as PostgreSQL's do below:
            # opening one (Django registers its SQL functions on each) cost every request
            # and every database hop of a websocket a millisecond.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            },
            "CONN_MAX_AGE": 600,
        }
    import dj_database_url

    try:
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} could not be parsed: {exc}") from None


def local_secret(path: Path) -> str:
    """A random secret kept in a private file: stable across restarts, never in the repo."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then linked into place, so a concurrent reader never sees half a file
        # and two processes starting together agree on one secret (link fails if it exists).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def env_export(name: str, value: str) -> None:
    """Put ``value`` in this process's environment for a library that reads it from there.

    prometheus_client decides at import whether values live in memory or in files shared by
    processes (``PROMETHEUS_MULTIPROC_DIR``), so settings say it before anything imports it.
    """
    os.environ[name] = value
