from datetime import UTC, datetime

import pytest

from accounts.models import Plan
from schedules.services import Schedule
from servers.models import Server
from tests.factories import ServerFactory

NOW = datetime(2026, 3, 2, 9, 30, 20, tzinfo=UTC)
DAILY_AT_10 = Schedule("daily", 10, 0)


@pytest.fixture
def task_server(db):
    """A task server row (no agent behind it: for tests that never start a run)."""
    return ServerFactory(kind=Server.Kind.TASK, hostname="tasks-1", execution_agent_socket="/x")


@pytest.fixture
def paid(user):
    user.plan = Plan.objects.get(slug="hacker")
    user.save(update_fields=["plan"])
    return user
