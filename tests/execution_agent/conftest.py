"""Fixtures that run the REAL execution agent (as root) on a private socket, dirs, uids, cgroups.

Plain pytest, no Django. One agent per test session (per xdist worker): its own temporary
homes/www/run dirs, a random uid base (WARREN_UID_BASE) and a unique cgroup prefix, all torn
down at the end (processes of its uids killed, cgroups removed, tmpfs mounts unmounted).
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import pytest

from execution_agent.testing.harness import AgentHarness, random_uid_base

ROOT = os.geteuid() == 0
WEB_NPROC = 96
WEB_WORKER_RSS_MB = 128
_names = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs root (bubblewrap, cgroups, uid changes)")
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and "root" in item.keywords and not ROOT:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def uid_base() -> int:
    # SystemRandom: unaffected by any seeding of `random` by other fixtures or plugins.
    return random_uid_base()


@pytest.fixture(scope="session")
def django_uid(uid_base) -> int:
    """A non-root service uid allowed to use the agent (like the `warren` user in production)."""
    return uid_base + 9_000


@pytest.fixture(scope="session")
def socket_gid(uid_base) -> int:
    return uid_base + 9_001


@pytest.fixture(scope="session")
def wildcard_tls(tmp_path_factory):
    """The operator's wildcard certificate for *.sites.test (root's files, 0600)."""
    from tests.certs import TestCA

    ca = TestCA("Operator CA")
    leaf = ca.leaf("*.sites.test")
    directory = tmp_path_factory.mktemp("wildcard-tls")
    os.chmod(directory, 0o700)
    certificate, key = directory / "wildcard.crt", directory / "wildcard.key"
    certificate.write_text(ca.chain_pem(leaf))
    key.write_text(leaf.key_pem)
    for path in (certificate, key):
        os.chmod(path, 0o600)
    return ca, leaf, certificate, key


@pytest.fixture(scope="session")
def harness(uid_base, django_uid, socket_gid, wildcard_tls):
    if not ROOT:
        pytest.skip("needs root")
    _, _, wildcard_certificate, wildcard_key = wildcard_tls
    agent = AgentHarness(
        uid_base=uid_base,
        cgroup_prefix=f"warren-test-{uuid.uuid4().hex[:10]}",
        allowed_uids=(0, django_uid),
        socket_group=socket_gid,
        # Low enough that the web fork-bomb test stays cheap, far above what any test needs.
        extra_env={
            "WARREN_WEB_NPROC": str(WEB_NPROC),
            "WARREN_WEB_WORKER_RSS_MB": str(WEB_WORKER_RSS_MB),
            "WARREN_WEBAPPS_WILDCARD_CERT": str(wildcard_certificate),
            "WARREN_WEBAPPS_WILDCARD_KEY": str(wildcard_key),
        },
    )
    with agent.running():
        yield agent


@pytest.fixture
def client(harness):
    return harness.client()


@pytest.fixture
def make_user(harness):
    """Create Warren users (home + www dir owned by their uid); kill their processes afterwards."""
    created = []

    def make(stem: str = "user", *, www: bool = True):
        number = next(_names)
        user = harness.user(number, f"{stem}-{number}", www=www)
        created.append(user)
        return user

    yield make
    harness.kill_user_processes({user["uid"] for user in created})


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")
