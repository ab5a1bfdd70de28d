"""$API_TOKEN in scheduled tasks: the user's token when they opted in, nothing otherwise."""

import pytest
from django.utils import timezone

from api.selectors import sandbox_env_for
from api.services import api_sandbox_token_set
from schedules import services
from tests.factories import person
from tests.schedules.test_runs import finished_run, log_text, new_task

pytestmark = pytest.mark.root


@pytest.fixture
def owner(db, provisioned):
    return provisioned(person("alice"))


def run_now(task, capture):
    with capture(execute=True):
        services.task_run_now(task=task, now=timezone.now())
    return finished_run(task)


def test_a_task_gets_api_token_only_after_the_user_opts_in(
    owner, exec_agent, django_capture_on_commit_callbacks
):
    task = new_task(owner, "echo token=[${API_TOKEN:-none}] url=[${WARREN_URL:-none}]")
    run_now(task, django_capture_on_commit_callbacks)
    assert "token=[none] url=[none]" in log_text(exec_agent, task)

    api_sandbox_token_set(user=owner, enabled=True)
    run_now(task, django_capture_on_commit_callbacks)
    env = sandbox_env_for(owner)
    assert f"token=[{env['API_TOKEN']}] url=[{env['WARREN_URL']}]" in log_text(exec_agent, task)
