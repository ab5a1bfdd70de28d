import pytest

from accounts.limits import LIMIT_FIELDS
from accounts.services import custom_limits_set
from databases.models import DatabaseServer
from tests.databases.engines import MYSQL, POSTGRES, new_prefix, sweep
from tests.factories import person


@pytest.fixture
def name_prefix():
    """This test's prefix on the shared servers; everything carrying it is dropped after."""
    prefix = new_prefix()
    yield prefix
    sweep(prefix)


@pytest.fixture
def mysql_server(db, name_prefix):
    return DatabaseServer.objects.create(
        kind=DatabaseServer.Kind.MYSQL,
        host=MYSQL["host"],
        port=MYSQL["port"],
        admin_user=MYSQL["admin"],
        name_prefix=name_prefix,
    )


@pytest.fixture
def postgres_server(db, name_prefix):
    return DatabaseServer.objects.create(
        kind=DatabaseServer.Kind.POSTGRES,
        host=POSTGRES["host"],
        port=POSTGRES["port"],
        admin_user=POSTGRES["admin"],
        name_prefix=name_prefix,
    )


@pytest.fixture
def db_servers(mysql_server, postgres_server):
    return {"mysql": mysql_server, "postgres": postgres_server}


@pytest.fixture
def owner(db, provisioned, db_servers):
    """alice, with a home on the test agents and both database servers registered."""
    return provisioned(person("alice"))


@pytest.fixture
def stranger(db, provisioned, db_servers):
    return provisioned(person("mallory"))


def with_postgres(user, allowed: bool = True) -> None:
    """Give ``user`` custom limits: their plan's, with or without the PostgreSQL add-on."""
    limits = {field: getattr(user.plan, field) for field in LIMIT_FIELDS}
    custom_limits_set(user=user, **{**limits, "postgres_allowed": allowed})


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what services enqueue on commit (tasks run eagerly in tests), as a worker would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
