"""The Databases tab: passwords, databases, consoles and every refusal, against the real
engines and the real execution agent (which writes ~/.my.cnf and ~/.pgpass as the user)."""

import stat

import pytest
from django.test import Client
from django.urls import reverse

from consoles.models import Console
from databases.models import Database, DatabaseAccount
from execution_agent.testing.harness import free_port
from tests.databases.conftest import with_postgres
from tests.databases.engines import mysql_as, postgres_as

pytestmark = pytest.mark.root

INDEX = reverse("databases:index")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PASSWORD = "s3cret-pass!"


def set_password(client, kind="mysql", password=PASSWORD):
    return client.post(reverse("databases:password"), {"kind": kind, "password": password})


def create(client, name, kind="mysql"):
    return client.post(reverse("databases:create"), {"kind": kind, "name": name}, follow=True)


def shown(response) -> str:
    return response.content.decode()


def ready_mysql(owner, run_on_commit, password=PASSWORD):
    client = client_for(owner)
    with run_on_commit():
        set_password(client, password=password)
    return client


def test_before_anything_the_tab_offers_a_password_and_explains_postgres(owner):
    page = shown(client_for(owner).get(INDEX))
    assert "Set password" in page
    assert "PostgreSQL is a paid add-on" in page
    assert f"{reverse('account')}#plans" in page


def test_a_mysql_password_makes_the_login_and_a_private_my_cnf(owner, run_on_commit, exec_agent):
    client = ready_mysql(owner, run_on_commit)
    account = DatabaseAccount.objects.get(user=owner)
    assert account.state == "ready" and account.pending_verifier == ""
    my_cnf = exec_agent.homes / owner.username / ".my.cnf"
    info = my_cnf.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == owner.uid
    assert 'password="s3cret-pass!"' in my_cnf.read_text()
    mysql_as(account.login, "s3cret-pass!").close()
    page = shown(client.get(INDEX))
    assert account.login in page and "Change password" in page
    assert "django.db.backends.mysql" in page and "mysql+pymysql://" in page


def test_changing_the_password_rotates_it_on_the_server(owner, run_on_commit):
    ready_mysql(owner, run_on_commit, "first-pass")
    ready_mysql(owner, run_on_commit, "second-pass")
    login = DatabaseAccount.objects.get(user=owner).login
    mysql_as(login, "second-pass").close()
    with pytest.raises(Exception, match="Access denied"):
        mysql_as(login, "first-pass")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 8"),
        ("", "at least 8"),
        ("with'quote", "Leave out quotes"),
        ('with"quote', "Leave out quotes"),
        ("with`tick", "Leave out quotes"),
        ("back\\slash", "Leave out quotes"),
        ("with space", "no spaces"),
        ("x" * 129, "under 128"),
    ],
)
def test_bad_passwords_are_refused_with_a_reason(owner, run_on_commit, password, message):
    with run_on_commit():
        response = client_for(owner).post(
            reverse("databases:password"), {"kind": "mysql", "password": password}, follow=True
        )
    assert message in shown(response)
    assert not DatabaseAccount.objects.filter(user=owner).exists()


def test_a_database_shows_creating_then_ready_with_its_size(owner, run_on_commit):
    client = ready_mysql(owner, run_on_commit)
    page = shown(create(client, "blog"))  # the task waits for the commit: not run yet
    assert "alice$blog" in page and "Creating…" in page and 'http-equiv="refresh"' in page
    from databases import tasks

    tasks.database_create(Database.objects.get().pk)
    page = shown(client.get(INDEX))
    assert 'data-name="alice$blog" data-state="ready"' in page
    assert 'http-equiv="refresh"' not in page
    login = DatabaseAccount.objects.get(user=owner).login
    with mysql_as(login, "s3cret-pass!", f"{login[: -len('alice')]}alice$blog").cursor() as cur:
        cur.execute("SELECT DATABASE()")


@pytest.mark.parametrize(
    "name", ["", "it's", "back`tick", "dollar$sign", "per%cent", "with space", "x" * 65, "é"]
)
def test_bad_database_names_are_refused_and_nothing_is_made(owner, run_on_commit, name):
    client = ready_mysql(owner, run_on_commit)
    with run_on_commit():
        page = shown(create(client, name))
    assert (
        "Give the database a name" in page or "Use only letters" in page or "Keep the name" in page
    )
    assert not Database.objects.exists()


def test_underscores_and_the_longest_name_are_fine(owner, run_on_commit, mysql_server):
    client = ready_mysql(owner, run_on_commit)
    longest = "x" * (64 - len(mysql_server.name_prefix) - len("alice$"))
    with run_on_commit():
        create(client, "my_site")
        create(client, longest)
        page = shown(create(client, longest + "x"))
    assert f"Keep the name to {len(longest)} characters" in page
    assert set(Database.objects.values_list("state", flat=True)) == {"ready"}


def test_creating_past_the_limit_is_refused(owner, run_on_commit, settings):
    settings.WARREN_DATABASES_PER_USER = 2
    client = ready_mysql(owner, run_on_commit)
    with run_on_commit():
        create(client, "one")
        create(client, "two")
        page = shown(create(client, "three"))
    assert "You can have 2 databases" in page
    assert Database.objects.count() == 2


def test_a_name_already_taken_is_refused(owner, run_on_commit):
    client = ready_mysql(owner, run_on_commit)
    with run_on_commit():
        create(client, "blog")
        page = shown(create(client, "blog"))
    assert "already have a database called alice$blog" in page


def test_databases_need_a_password_first(owner):
    page = shown(create(client_for(owner), "blog"))
    assert "Set a MySQL password first" in page


def test_a_server_that_is_down_fails_clearly_and_leaves_nothing(owner, run_on_commit, mysql_server):
    client = ready_mysql(owner, run_on_commit)
    mysql_server.port = free_port()  # nothing listens there
    mysql_server.save()
    with run_on_commit():
        page = shown(create(client, "blog"))
    database = Database.objects.get()
    assert database.state == "failed"
    page = shown(client.get(INDEX))
    assert "The database server is not answering" in page
    # Deleting the failed one is how it is tidied (the server is back by then).
    mysql_server.port = 3306
    mysql_server.save()
    with run_on_commit():
        client.post(reverse("databases:delete", args=[database.pk]), {"confirmation": "alice$blog"})
    assert not Database.objects.exists()


def test_a_password_set_while_the_server_is_down_says_so(owner, run_on_commit, mysql_server):
    mysql_server.port = free_port()
    mysql_server.save()
    client = ready_mysql(owner, run_on_commit)
    account = DatabaseAccount.objects.get(user=owner)
    assert account.state == "failed" and account.pending_verifier == ""
    assert "not answering" in shown(client.get(INDEX))


def test_delete_asks_for_the_name_then_drops_it(owner, run_on_commit):
    client = ready_mysql(owner, run_on_commit)
    with run_on_commit():
        create(client, "blog")
    database = Database.objects.get()
    url = reverse("databases:delete", args=[database.pk])
    with run_on_commit():
        page = shown(client.post(url, {"confirmation": "blog"}, follow=True))
    assert "Type alice$blog to confirm" in page
    assert Database.objects.get().state == "ready"
    with run_on_commit():
        client.post(url, {"confirmation": "alice$blog"})
    assert not Database.objects.exists()
    login = DatabaseAccount.objects.get().login
    with mysql_as(login, "s3cret-pass!").cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        assert [row[0] for row in cursor.fetchall()] == ["information_schema"]


def test_an_outsider_cannot_delete_someone_elses_database(owner, stranger, run_on_commit):
    client = ready_mysql(owner, run_on_commit)
    with run_on_commit():
        create(client, "blog")
    database = Database.objects.get()
    response = client_for(stranger).post(
        reverse("databases:delete", args=[database.pk]), {"confirmation": "alice$blog"}
    )
    assert response.status_code == 404
    assert Database.objects.get().state == "ready"
    assert "alice$blog" not in shown(client_for(stranger).get(INDEX))


def test_pages_and_actions_need_a_login(db):
    assert Client().get(INDEX).status_code == 302
    assert (
        Client().post(reverse("databases:create"), {"kind": "mysql", "name": "x"}).status_code
        == 302
    )


def test_postgres_without_the_add_on_is_refused(owner, run_on_commit):
    with run_on_commit():
        page = shown(
            client_for(owner).post(
                reverse("databases:password"),
                {"kind": "postgres", "password": "s3cret-pass!"},
                follow=True,
            )
        )
    assert "PostgreSQL is a paid add-on" in page
    assert not DatabaseAccount.objects.exists()


def test_postgres_with_the_add_on_gives_a_role_a_pgpass_and_databases(
    owner, run_on_commit, exec_agent
):
    with run_on_commit():
        with_postgres(owner)
    client = client_for(owner)
    with run_on_commit():
        set_password(client, kind="postgres")
        create(client, "shop", kind="postgres")
    account = DatabaseAccount.objects.get(user=owner, server__kind="postgres")
    pgpass = exec_agent.homes / owner.username / ".pgpass"
    assert stat.S_IMODE(pgpass.stat().st_mode) == 0o600 and pgpass.stat().st_uid == owner.uid
    assert pgpass.read_text() == f"127.0.0.1:5432:*:{account.login}:s3cret-pass!\n"
    prefix = account.server.name_prefix
    with postgres_as(account.login, "s3cret-pass!", f"{prefix}alice$shop") as connection:
        connection.execute("CREATE TABLE t (x int)")
    page = shown(client.get(INDEX))
    assert "django.db.backends.postgresql" in page and "postgresql+psycopg://" in page
    assert "Start a psql console" in page


def test_the_console_buttons_start_mysql_and_psql_consoles(owner, run_on_commit):
    client = ready_mysql(owner, run_on_commit)
    response = client.post(reverse("databases:console"), {"kind": "mysql"})
    console = Console.objects.get(owner=owner)
    assert response.url == console.get_absolute_url()
    assert console.argv == ["mysql"] and console.title == "MySQL"
    with run_on_commit():
        with_postgres(owner)
        set_password(client, kind="postgres")
        create(client, "shop", kind="postgres")
    client.post(reverse("databases:console"), {"kind": "postgres"})
    psql = Console.objects.get(owner=owner, title="PostgreSQL")
    login = DatabaseAccount.objects.get(server__kind="postgres").login
    assert psql.argv == ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", login, f"{login}$shop"]


def test_a_console_needs_a_ready_login(owner):
    page = shown(
        client_for(owner).post(reverse("databases:console"), {"kind": "mysql"}, follow=True)
    )
    assert "Set a MySQL password first" in page
    assert not Console.objects.exists()


def test_a_database_after_a_failed_login_fails_with_a_reason(owner, run_on_commit, mysql_server):
    port = mysql_server.port
    mysql_server.port = free_port()
    mysql_server.save()
    client = ready_mysql(owner, run_on_commit)  # the login fails: the server is down
    mysql_server.port = port
    mysql_server.save()
    with run_on_commit():
        create(client, "blog")
    assert Database.objects.get().state == "failed"
    page = shown(client.get(INDEX))
    assert "Your login could not be made: set your password again." in page


def test_the_tab_reads_in_a_fixed_number_of_queries(
    owner, run_on_commit, django_assert_max_num_queries
):
    client = ready_mysql(owner, run_on_commit)
    with run_on_commit():
        for name in ("a", "b", "c", "d"):
            create(client, name)
    with django_assert_max_num_queries(12):
        page = shown(client.get(INDEX))
    assert page.count('<tr data-name="alice$') == 4 and "Creating…" not in page
