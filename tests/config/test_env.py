import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env


@pytest.mark.parametrize("raw, expected", [("1", True), ("yes", True), ("off", False), ("", False)])
def test_bool_words_are_understood(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env.env_bool("SOME_FLAG") is expected


def test_a_malformed_bool_names_its_variable(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env.env_bool("SOME_FLAG")


def test_an_int_below_its_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("WARREN_UID_BASE", "1000")
    with pytest.raises(ImproperlyConfigured, match="WARREN_UID_BASE must be at least 65536"):
        env.env_int("WARREN_UID_BASE", 1_000_000, minimum=65536)


def test_a_non_numeric_int_names_its_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT must be an integer"):
        env.env_int("EMAIL_PORT", 587)


def test_a_relative_path_is_refused(monkeypatch):
    monkeypatch.setenv("WARREN_HOMES_ROOT", "home")
    with pytest.raises(ImproperlyConfigured, match="WARREN_HOMES_ROOT must be an absolute path"):
        env.env_path("WARREN_HOMES_ROOT", None)


def test_no_database_url_means_sqlite_under_var(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.database_config("DATABASE_URL", tmp_path / "warren.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "warren.sqlite3")


def test_the_embedded_sqlite_database_writes_ahead_and_keeps_its_connections(
    monkeypatch, tmp_path, django_db_blocker
):
    # The web process reads while Celery writes: in WAL mode neither waits on the other.
    from django.db.backends.sqlite3.base import DatabaseWrapper

    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.database_config("DATABASE_URL", tmp_path / "warren.sqlite3")
    assert config["CONN_MAX_AGE"] > 0
    defaults = {"TIME_ZONE": None, "AUTOCOMMIT": True, "ATOMIC_REQUESTS": False}
    defaults |= {"CONN_HEALTH_CHECKS": False}
    writer = DatabaseWrapper({**config, **defaults}, alias="writer")
    reader = DatabaseWrapper({**config, **defaults}, alias="reader")
    with django_db_blocker.unblock():
        try:
            with writer.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                assert cursor.fetchone()[0] == "wal"
                cursor.execute("PRAGMA synchronous")
                assert cursor.fetchone()[0] == 1  # NORMAL
                cursor.execute("CREATE TABLE t (n INTEGER)")
                cursor.execute("INSERT INTO t VALUES (1)")
                with reader.cursor() as other:
                    # A reader in the middle of a transaction (a page being rendered) does not
                    # hold up a commit (with a rollback journal it would, until it ended).
                    other.execute("BEGIN")
                    other.execute("SELECT count(*) FROM t")
                    cursor.execute("INSERT INTO t VALUES (2)")
                    other.execute("SELECT count(*) FROM t")
                    assert other.fetchone()[0] == 1  # its own snapshot
                    other.execute("COMMIT")
                    other.execute("SELECT count(*) FROM t")
                    assert other.fetchone()[0] == 2
        finally:
            writer.close()
            reader.close()


def test_a_postgres_database_url_is_parsed(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://warren:pw@db.internal:5433/warren")
    config = env.database_config("DATABASE_URL", tmp_path / "x.sqlite3")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "warren")


@pytest.mark.parametrize(
    "url", ["mysql://db/warren", "postgres://db:notaport/warren", "just-words", "postgres:///x"]
)
def test_a_malformed_database_url_names_its_variable(monkeypatch, tmp_path, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.database_config("DATABASE_URL", tmp_path / "x.sqlite3")


def test_a_redis_url_must_be_redis(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must start with redis://"):
        env.env_url("REDIS_URL", ("redis", "rediss", "unix"))


def test_a_local_secret_is_created_once_and_kept_private(tmp_path):
    path = tmp_path / "secrets" / "key"
    first = env.local_secret(path)
    assert env.local_secret(path) == first
    assert len(first) >= 40
    assert path.stat().st_mode & 0o777 == 0o600
