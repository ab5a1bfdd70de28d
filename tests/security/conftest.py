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

# The forums' fixtures (a category, Akismet's offline answers), for the forum attacks.
from tests.forums.conftest import akismet_answers, category  # noqa: F401
