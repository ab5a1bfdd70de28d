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
