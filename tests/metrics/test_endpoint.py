"""GET /metrics/: only for the scraper holding the token; requests counted by view and status."""

import pytest

from tests.metrics.scraping import TOKEN, value

pytestmark = pytest.mark.django_db


def test_without_a_configured_token_there_is_no_metrics_page(client, settings):
    settings.WARREN_METRICS_TOKEN = ""
    assert client.get("/metrics/").status_code == 404
    assert client.get("/metrics/", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
    # Fixed ids: the token is random per process, and xdist's workers must collect alike.
    ids=["none", "wrong-token", "basic-scheme", "token-plus-one", "bearer-alone"],
)
def test_anyone_without_the_token_is_refused(client, scrape, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics/", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"warren_" not in response.content


def test_a_logged_in_user_without_the_token_is_refused_too(alice_client, scrape):
    response = alice_client.get("/metrics/")
    assert response.status_code == 401
    assert b"warren_" not in response.content


def test_only_get_is_answered(client, scrape):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/metrics/", headers=headers).status_code == 405


def test_requests_are_counted_by_view_name_and_status(alice_client, client, scrape):
    before = scrape()
    assert alice_client.get("/").status_code == 200
    assert client.get("/").status_code == 302  # to the login page
    assert alice_client.get("/no-such-page/").status_code == 404
    after = scrape()

    def moved(**labels):
        return value(after, "warren_http_requests_total", **labels) - value(
            before, "warren_http_requests_total", **labels
        )

    assert moved(view="dashboard", method="GET", status=200) == 1
    assert moved(view="dashboard", method="GET", status=302) == 1
    assert moved(view="unresolved", method="GET", status=404) == 1
    # The first scrape is counted by the second.
    assert moved(view="metrics:metrics", method="GET", status=200) == 1


def test_odd_methods_share_one_label(client, scrape):
    before = scrape()
    client.generic("BREW", "/")
    after = scrape()
    name = "warren_http_requests_total"
    assert (
        value(after, name, view="dashboard", method="other", status=302)
        - value(before, name, view="dashboard", method="other", status=302)
        == 1
    )


def test_the_queues_are_read_from_the_broker(scrape, db):
    from config.celery import app
    from servers.models import Server

    server = Server.objects.create(kind=Server.Kind.TASK, hostname="metrics-queue-test")
    queue = server.agent_queue
    assert value(scrape(), "warren_celery_queue_messages", queue=queue) == 0
    for _ in range(3):
        # Not a task of ours: no worker consumes this queue in the tests; it is purged below.
        app.send_task("metrics.test.nothing", queue=queue)
    try:
        assert value(scrape(), "warren_celery_queue_messages", queue=queue) == 3
        assert ("warren_celery_queue_messages", (("queue", "default"),)) in scrape()
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
