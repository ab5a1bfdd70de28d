"""Web apps on the real nginx and uWSGI Emperor of tests/conftest.py's web_front."""

import contextlib

import pytest
from django.conf import settings

from servers.agents import AgentError, AgentUnavailable, user_ref
from webapps.agent import web_agent
from webapps.models import WebApp


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
