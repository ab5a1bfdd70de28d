# The Databases fixtures (servers with a per-test name prefix, provisioned users), for the
# database attacks.
from tests.databases.conftest import (  # noqa: F401
    db_servers,
    mysql_server,
    name_prefix,
    owner,
    postgres_server,
    run_on_commit,
    stranger,
)
