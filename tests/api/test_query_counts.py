"""List endpoints and the token card cost a fixed number of queries, however long the list."""

import pytest
from django.utils import timezone

from api import services
from schedules.services import Schedule, task_create
from tests.api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def test_the_task_list_costs_the_same_for_one_task_or_twenty(user, task_server):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = ApiClient(token_for(user), "alice")
    user.plan.max_scheduled_tasks = 50
    user.plan.save(update_fields=["max_scheduled_tasks"])

    def add(count: int) -> None:
        for hour in range(count):
            schedule = Schedule("daily", hour, 0)
            task_create(owner=user, command="true", schedule=schedule, now=timezone.now())

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("schedule/").status_code == 200
        return len(captured)

    add(1)
    api.get("schedule/")  # the token's last use is written once a minute: not counted below
    one = queries()
    add(19)
    assert queries() == one


def test_the_account_tabs_token_card_costs_one_query_for_many_tokens(
    alice_client, user, django_assert_num_queries
):
    for number in range(15):
        services.api_token_create(user=user, name=f"t{number}")
    alice_client.get("/account/")  # warm whatever the page caches
    from api.dashboard import tokens_card

    class Request:
        pass

    request = Request()
    request.user = user
    with django_assert_num_queries(1):
        card = tokens_card(request)
    assert len(card.context["tokens"]) == 15
