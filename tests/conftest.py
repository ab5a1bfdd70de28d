import os
import shutil
import time

import pytest
from django.test import Client

from accounts.services import user_provision
from execution_agent.testing.web import WebFrontProcesses
from servers.services import servers_register_local
from tests.agents import point_django_at, restore_django, start_execution_agent, start_fileserver
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fakes.dns import shared_fake_dns
from tests.pebble import Pebble


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def user(db):
    """The owner: the person whose things a test looks at."""
    return UserFactory(username="alice")


@pytest.fixture
def outsider(db):
    """Someone else with an account, who must never see the owner's things."""
    return UserFactory(username="mallory")


@pytest.fixture
def staff_user(db):
    return UserFactory(username="operator1", is_staff=True, is_superuser=True)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(user):
    return _logged_in(user)


@pytest.fixture
def outsider_client(outsider):
    return _logged_in(outsider)


@pytest.fixture
def staff_client(staff_user):
    return _logged_in(staff_user)


# --- real agents ---------------------------------------------------------------------------

ROOT = os.geteuid() == 0


@pytest.fixture(scope="session", autouse=True)
def _end_stray_database_sessions(django_db_setup, django_db_blocker):
    """Let the test database be dropped at the end: connections opened by other threads (live
    servers, Channels' sync-to-async pool) are still open then, and PostgreSQL refuses."""
    yield
    from django.db import connection

    # No test database when no collected test uses one: leave the real one alone.
    if connection.vendor != "postgresql" or not connection.settings_dict["NAME"].startswith(
        "test_"
    ):
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def _transactional_without_restore(item) -> bool:
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        return not marker.kwargs.get("serialized_rollback")
    names = getattr(item, "fixturenames", ())
    return "transactional_db" in names and "django_db_serialized_rollback" not in names


def pytest_collection_modifyitems(config, items):
    # A transactional test without serialized_rollback ends with a flush that re-creates the
    # content types; the next serialized test on that worker then restores its saved copy over
    # them and errors with a duplicate key (one such test broke 60 others in CI).
    plain = [item.nodeid for item in items if _transactional_without_restore(item)]
    if plain:
        raise pytest.UsageError(
            "transactional tests here need serialized_rollback=True (or the "
            "django_db_serialized_rollback fixture): " + ", ".join(plain[:5])
        )
    skip = pytest.mark.skip(reason="needs root (bubblewrap, cgroups, uid changes)")
    for item in items:
        if "root" in item.keywords and not ROOT:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def exec_agent():
    """A real execution agent for this test process, with Django's settings pointed at it."""
    if not ROOT:
        pytest.skip("needs root")
    harness, old = start_execution_agent()
    try:
        yield harness
    finally:
        restore_django(old)
        harness.cleanup()


@pytest.fixture(scope="session")
def fileserver(exec_agent):
    """A real fileserver agent (du backend) on the execution agent's homes root."""
    process, old = start_fileserver(exec_agent)
    try:
        yield process
    finally:
        restore_django(old)
        process.stop()


@pytest.fixture
def local_servers(db, exec_agent, fileserver):
    """This machine registered in every role, pointing at the test agents."""
    return servers_register_local()


@pytest.fixture
def provisioned(local_servers, exec_agent, fileserver, django_capture_on_commit_callbacks):
    """``provisioned(user)``: give a user their file server and home, the way signup does.

    user_provision's on-commit hook runs files.tasks.home_create (eagerly, in tests) against
    the real fileserver agent: the home, the web directory and the plan's quota.
    """
    made = []

    def provision(user):
        with django_capture_on_commit_callbacks(execute=True):
            user = user_provision(user=user)
        home = exec_agent.homes / user.username
        assert home.is_dir() and home.stat().st_uid == user.uid, "home_create did not run"
        made.append(user)
        return user

    yield provision
    # Usernames repeat across tests (alice, mallory) with new uids: leave nothing behind. A
    # writer can outlive the kill by a moment (an always-on supervisor told to stop notes the
    # exit in the task's log after its process dies), and rmtree then loses the race with a
    # file appearing in a directory it is emptying; so repeat until the trees are gone.
    uids = {user.uid for user in made}
    leftovers = [
        root / user.username for user in made for root in (exec_agent.homes, exec_agent.www)
    ]
    deadline = time.monotonic() + 10
    while True:
        exec_agent.kill_user_processes(uids)
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)
        if not any(path.exists() for path in leftovers) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not any(path.exists() for path in leftovers), f"left behind: {leftovers}"


@pytest.fixture(scope="session")
def web_front(exec_agent):
    """nginx on the harness's free port and an Emperor on its web dir, for this process.

    Defined here, once: a module importing a session fixture gets its own instance of it, and
    a second front on the same port and web dir ran a second Emperor on the same vassals (each
    start binding the app's socket anew, so an instance with the old code could be the one
    answering after "Reloaded") beside an nginx that could not bind.
    """
    front = WebFrontProcesses(exec_agent.env(), exec_agent.web_dir, exec_agent.web_port)
    front.start()
    old = point_django_at(
        WARREN_WEBAPPS_PORT=exec_agent.web_port,
        WARREN_WEBAPPS_HTTPS_PORT=exec_agent.web_https_port,
    )
    try:
        yield front
    finally:
        restore_django(old)
        front.stop()


@pytest.fixture(scope="session")
def pebble(web_front, exec_agent, tmp_path_factory):
    """A real ACME server validating over our nginx's HTTP port, resolving through the fake
    DNS; Django's ACME settings point at it for the session (one account key)."""
    server = Pebble(http_port=exec_agent.web_port, dns_server=shared_fake_dns().address).start()
    key = tmp_path_factory.mktemp("acme") / "account.pem"
    old = point_django_at(
        WARREN_ACME_DIRECTORY_URL=server.directory_url,
        WARREN_ACME_CA_BUNDLE=str(server.ca_bundle),
        WARREN_ACME_ACCOUNT_KEY=key,
    )
    try:
        yield server
    finally:
        restore_django(old)
        server.stop()
