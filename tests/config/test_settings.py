"""Start-up behaviour of the real settings module, each in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def start_django(tmp_path, **env):
    """Import the real settings in a clean environment plus ``env``; return the process."""
    clean = {"PATH": os.environ["PATH"], "WARREN_VAR_DIR": str(tmp_path), **env}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.CACHES['default']['BACKEND'], "
        "settings.CELERY_BROKER_URL, settings.CHANNEL_LAYERS['default']['BACKEND'], settings.DEBUG)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True
    )


def test_no_environment_at_all_gives_the_embedded_default(tmp_path):
    result = start_django(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "filesystem://localhost//",
        "channels.layers.InMemoryChannelLayer",
        "False",
    ]


def test_redis_url_switches_broker_cache_and_channel_layer(tmp_path):
    result = start_django(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3")
    assert result.returncode == 0, result.stderr
    _, cache, broker, layer, _ = result.stdout.split()
    assert cache == "django.core.cache.backends.redis.RedisCache"
    assert broker == "redis://127.0.0.1:6379/3"
    assert layer == "channels_redis.core.RedisChannelLayer"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = start_django(tmp_path, WARREN_ENV="production", WARREN_AGENT_SECRETS="x" * 40)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when WARREN_ENV=production" in result.stderr
    assert not (tmp_path / "secrets").exists()


def test_production_refuses_debug(tmp_path):
    result = start_django(tmp_path, WARREN_ENV="production", SECRET_KEY="s" * 50, DEBUG="1")
    assert "DEBUG must be off" in result.stderr


@pytest.mark.parametrize(
    "name, value",
    [
        ("DEBUG", "perhaps"),
        ("WARREN_UID_BASE", "lots"),
        ("DATABASE_URL", "oracle://db/warren"),
        ("REDIS_URL", "localhost:6379"),
        ("WARREN_ENV", "staging"),
        ("WARREN_HOMES_ROOT", "relative/home"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(tmp_path, name, value):
    result = start_django(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.strip().splitlines()[-1]


def test_debug_is_off_unless_asked_for(tmp_path):
    assert start_django(tmp_path).stdout.split()[-1] == "False"
    assert start_django(tmp_path, DEBUG="true").stdout.split()[-1] == "True"
