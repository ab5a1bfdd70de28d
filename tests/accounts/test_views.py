import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

TAB_PAGES = [
    "dashboard",
    "account",
    "consoles:index",
    "files:index",
    "webapps:index",
    "schedules:index",
    "databases:index",
]


@pytest.mark.parametrize("name", TAB_PAGES)
def test_every_page_asks_an_anonymous_visitor_to_log_in(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('account_login')}?next={url}"


@pytest.mark.parametrize(
    "name", ["account_login", "account_signup", "account_reset_password", "account_logout"]
)
def test_the_way_in_is_open_to_anonymous_visitors(client, name):
    assert client.get(reverse(name)).status_code in (200, 302)
    if name != "account_logout":
        assert client.get(reverse(name)).status_code == 200


def test_the_dashboard_shows_every_tab_with_the_current_one_marked(alice_client):
    response = alice_client.get(reverse("dashboard"))
    html = response.content.decode()
    labels = [tab["label"] for tab in response.context["tabs"]]
    assert labels == [
        "Dashboard",
        "Consoles",
        "Files",
        "Web",
        "Tasks",
        "Databases",
        "Forums",
        "Account",
    ]
    assert [tab["label"] for tab in response.context["tabs"] if tab["active"]] == ["Dashboard"]
    assert 'aria-current="page">Dashboard<' in html


@pytest.mark.parametrize(
    "name, label",
    [
        ("consoles:index", "Consoles"),
        ("schedules:index", "Tasks"),
        ("forums:index", "Forums"),
        ("account", "Account"),
    ],
)
def test_each_tab_page_marks_itself_active(alice_client, name, label):
    response = alice_client.get(reverse(name))
    assert response.status_code == 200
    assert [tab["label"] for tab in response.context["tabs"] if tab["active"]] == [label]


def test_the_tasks_tab_is_built_and_says_what_the_plan_includes(alice_client, user):
    tasks = alice_client.get(reverse("schedules:index")).content.decode()
    allowed = user.plan.max_scheduled_tasks
    assert "Coming soon" not in tasks
    assert f"Your plan includes {allowed} scheduled task" in tasks


def test_the_plan_tables_mark_nothing_as_coming_once_every_row_is_built(alice_client):
    html = alice_client.get(reverse("account")).content.decode()
    rows = re.findall(r'<tr class="coming"><th scope="row">([^<]+)</th>', html)
    assert rows == []
    assert all("coming</small>" in row for row in re.findall(r'<tr class="coming">.*?</tr>', html))


def test_the_account_tab_shows_the_plan_and_its_limits(alice_client, user):
    response = alice_client.get(reverse("account"))
    html = response.content.decode()
    assert "Plan: Beginner" in html
    assert "CPU-seconds per day</th><td>100<" in html
    assert "Disk space</th><td>512.0\xa0MB<" in html
    assert "Two-factor authentication" in html and "Turn on two-factor authentication" in html
    assert f"uid <code>{user.uid}</code>" in html


def test_the_dashboard_plan_card_summarises_limits(alice_client):
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert "Your plan: Beginner" in html
    assert "CPU-seconds a day" in html


def test_logging_out_ends_the_session(alice_client):
    response = alice_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert alice_client.get(reverse("dashboard")).status_code == 302
