import pytest

from databases.models import DatabaseServer
from tests.databases.engines import MYSQL, POSTGRES, new_prefix, sweep


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
