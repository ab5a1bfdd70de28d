"""The PostgreSQL add-on leaving and coming back: NOLOGIN, a warning email, the grace period,
the drop after it; and a plan change through the ordinary services (limits_changed)."""

from datetime import timedelta

import psycopg
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from databases import tasks
from databases.engines import engine
from databases.models import Database, DatabaseAccount
from tests.databases.conftest import with_postgres
from tests.databases.engines import postgres_as

pytestmark = pytest.mark.root

PASSWORD = "pg-pass-123"


@pytest.fixture
def alice_with_postgres(owner, run_on_commit):
    with run_on_commit():
        with_postgres(owner)
    client = Client()
    client.force_login(owner)
    with run_on_commit():
        client.post(reverse("databases:password"), {"kind": "postgres", "password": PASSWORD})
        client.post(reverse("databases:create"), {"kind": "postgres", "name": "shop"})
    account = DatabaseAccount.objects.get(user=owner)
    dbname = account.server.name_prefix + "alice$shop"
    with postgres_as(account.login, PASSWORD, dbname) as connection:
        connection.execute("CREATE TABLE orders AS SELECT 7 AS n")
    return account, dbname


def test_dropping_the_add_on_stops_logins_keeps_data_and_warns(
    owner, alice_with_postgres, run_on_commit, settings
):
    settings.WARREN_DATABASE_GRACE_DAYS = 10
    account, dbname = alice_with_postgres
    with run_on_commit():
        with_postgres(owner, allowed=False)
    account.refresh_from_db()
    assert account.state == "suspended" and account.suspended_at is not None
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        postgres_as(account.login, PASSWORD, dbname)
    assert engine(account.server).databases_of(login=account.login) == [dbname]
    [warning] = mail.outbox
    assert warning.to == [owner.email] and "kept until" in warning.body
    until = account.suspended_at + timedelta(days=10)
    assert f"{until:%d %B %Y}" in warning.body
    client = Client()
    client.force_login(owner)
    page = client.get(reverse("databases:index")).content.decode()
    assert "Suspended" in page and "Start a psql console" not in page
    refused = client.post(
        reverse("databases:create"), {"kind": "postgres", "name": "more"}, follow=True
    )
    assert "add it to your plan first" in refused.content.decode()


def test_the_add_on_back_within_the_grace_period_restores_everything(
    owner, alice_with_postgres, run_on_commit
):
    account, dbname = alice_with_postgres
    with run_on_commit():
        with_postgres(owner, allowed=False)
    with run_on_commit():
        with_postgres(owner, allowed=True)
    account.refresh_from_db()
    assert account.state == "ready" and account.suspended_at is None
    with postgres_as(account.login, PASSWORD, dbname) as connection:
        assert connection.execute("SELECT n FROM orders").fetchone() == (7,)


def test_after_the_grace_period_the_data_and_role_are_dropped(
    owner, alice_with_postgres, run_on_commit, settings
):
    settings.WARREN_DATABASE_GRACE_DAYS = 3
    account, _ = alice_with_postgres
    with run_on_commit():
        with_postgres(owner, allowed=False)
    tasks.suspended_accounts_expire()  # not yet: suspended a moment ago
    assert DatabaseAccount.objects.filter(pk=account.pk).exists()
    DatabaseAccount.objects.filter(pk=account.pk).update(
        suspended_at=timezone.now() - timedelta(days=3, minutes=1)
    )
    tasks.suspended_accounts_expire()
    assert not DatabaseAccount.objects.filter(pk=account.pk).exists()
    assert not Database.objects.exists()
    assert not engine(account.server).account_exists(login=account.login)
    assert engine(account.server).databases_of(login=account.login) == []


def test_mysql_is_untouched_by_the_postgres_add_on(owner, alice_with_postgres, run_on_commit):
    client = Client()
    client.force_login(owner)
    with run_on_commit():
        client.post(reverse("databases:password"), {"kind": "mysql", "password": PASSWORD})
        with_postgres(owner, allowed=False)
    assert DatabaseAccount.objects.get(server__kind="mysql").state == "ready"
