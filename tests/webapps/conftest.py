"""A real nginx and uWSGI Emperor beside the test process's execution agent."""

import contextlib

import pytest
from django.conf import settings

from execution_agent.testing.web import WebFrontProcesses
from servers.agents import AgentError, AgentUnavailable, user_ref
from tests.agents import point_django_at, restore_django
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
