"""A real nginx and uWSGI Emperor beside the test process's execution agent."""

import contextlib

import pytest
from django.conf import settings

from execution_agent.testing.web import WebFrontProcesses
from servers.agents import AgentError, AgentUnavailable, user_ref
from tests.agents import point_django_at, restore_django
from tests.fakes.dns import shared_fake_dns
from tests.pebble import Pebble
from webapps.agent import web_agent
from webapps.models import WebApp


@pytest.fixture(scope="session")
def web_front(exec_agent):
    """nginx on the harness's free port and an Emperor on its web dir, for this process."""
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


@pytest.fixture
def web(web_front, provisioned, django_capture_on_commit_callbacks):
    """The web front, and every app made during the test taken off it afterwards."""
    yield web_front
    for webapp in WebApp.objects.select_related("user"):
        with contextlib.suppress(AgentError, AgentUnavailable):
            web_agent().web_remove(user=user_ref(webapp.user), domain=webapp.domain)


@pytest.fixture
def alice_home(user, provisioned):
    return provisioned(user)


@pytest.fixture
def mallory_home(outsider, provisioned):
    return provisioned(outsider)


@pytest.fixture
def web_port():
    return settings.WARREN_WEBAPPS_PORT


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
