"""``manage.py check --deploy``: a users' database server whose admin has no password."""

from django.core import checks
from django.db import DatabaseError


@checks.register("warren", deploy=True)
def check_admin_passwords(app_configs=None, **kwargs):
    # Sandboxes reach the users' database servers (the firewall's default allow list), so an
    # admin login without a password there is open to every user's code.
    from databases.models import DatabaseServer

    try:
        servers = list(DatabaseServer.objects.filter(is_active=True, admin_secret_name=""))
    except DatabaseError:  # not migrated yet
        return []
    return [
        checks.Error(
            f"The database server {server} logs in as {server.admin_user!r} without a password.",
            hint="Give that account a password on the server, put it in "
            "WARREN_DATABASE_ADMINS_FILE and name it in the server's admin_secret_name.",
            id="databases.E001",
        )
        for server in servers
    ]


@checks.register("warren", deploy=True)
def check_mysql_root_open(app_configs=None, **kwargs):
    # The users' MariaDB is reachable from sandboxes: a root without a password there makes
    # every user its root, whatever Warren's own admin login is.
    from databases.management.commands.warren_sandbox_database_ports import (
        mysql_root_takes_no_password,
    )
    from databases.models import DatabaseServer

    try:
        servers = list(DatabaseServer.objects.filter(is_active=True, kind="mysql"))
    except DatabaseError:
        return []
    return [
        checks.Error(
            f"The users' MariaDB {server} lets root in without a password, and sandboxes reach it.",
            hint="Give root a password on that server (ALTER USER), or keep its port out of "
            "WARREN_SANDBOX_ALLOW / WARREN_SANDBOX_DATABASE_PORTS.",
            id="databases.E002",
        )
        for server in servers
        if mysql_root_takes_no_password(server.host, server.port)
    ]
