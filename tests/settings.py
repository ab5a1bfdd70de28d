"""Settings for the test suite: the real settings, with a private var/ and eager Celery.

Set through the environment (before ``config.settings`` reads it) so that subprocesses the
tests start (a live ASGI server, a Celery worker) can be given exactly the same values.
"""

import os
import random
import tempfile

os.environ.setdefault("WARREN_ENV", "test")
os.environ.setdefault("WARREN_VAR_DIR", tempfile.mkdtemp(prefix="warren-test-var-"))
# A random uid range per test process, so parallel runs never share Unix identities.
os.environ.setdefault("WARREN_UID_BASE", str(3_000_000 + random.randrange(1000) * 10_000))
# xdist workers inherit the controller's environment, hence its range: without this, "alice"
# of one worker had the same uid as "alice" of the other, and one worker's clean-up killed the
# other's processes. Each worker moves to its own 10,000 uids (once: its subprocesses, such as
# a live server, inherit the moved range and the marker).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("WARREN_TEST_UID_WORKER") != _worker:
    _moved = int(os.environ["WARREN_UID_BASE"]) + (int(_worker[2:]) + 1) * 10_000
    os.environ["WARREN_UID_BASE"] = str(_moved)
    os.environ["WARREN_TEST_UID_WORKER"] = _worker
os.environ.setdefault("WARREN_CELERY_EAGER", "1")
os.environ.setdefault("WARREN_LOGIN_RATE_LIMIT", "10/m/ip,5/5m/key")
# Forums: a key, so posts are checked; the client below never leaves the machine.
os.environ.setdefault("WARREN_AKISMET_API_KEY", "offline-test-key")

from config.settings import *  # noqa: E402, F403

# Hashing strength is not under test here; speed is welcome.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Akismet answers from the akismet package's offline test clients (tests/fakes/akismet.py).
WARREN_AKISMET_CLIENT = "tests.fakes.akismet.ConventionClient"

# Test processes may share one Redis (xdist workers, CI beside a developer's run): give each
# process its own key space so rate limits and channel groups never leak between them.
_PREFIX = f"test-{os.getpid()}-{random.randrange(1 << 30)}"
CACHES["default"]["KEY_PREFIX"] = _PREFIX  # noqa: F405
if "CONFIG" in CHANNEL_LAYERS["default"]:  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"asgi-{_PREFIX}"  # noqa: F405
