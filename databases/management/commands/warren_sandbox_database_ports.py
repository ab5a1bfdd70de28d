import pymysql
from django.conf import settings
from django.core.management.base import BaseCommand

from execution_agent.firewall import USERS_DATABASE_PORTS


def mysql_root_takes_no_password(host: str, port: int) -> bool:
    """Whether the MariaDB at host:port lets ``root`` in with an empty password over TCP."""
    try:
        pymysql.connect(
            host=host,
            port=port,
            user="root",
            password="",
            connect_timeout=settings.WARREN_DATABASE_CONNECT_TIMEOUT_SECONDS,
        ).close()
    except pymysql.MySQLError:
        return False  # refused, or nothing there: either way, no open root
    return True


class Command(BaseCommand):
    help = (
        "Print the local database ports sandboxes may reach by default "
        "(WARREN_SANDBOX_DATABASE_PORTS), leaving out a MariaDB whose root takes no password."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host, **options):
        ports = list(USERS_DATABASE_PORTS)
        if 3306 in ports and mysql_root_takes_no_password(host, 3306):
            ports.remove(3306)
            # stderr: stdout is the value ./bin/run exports.
            self.stderr.write(
                f"MariaDB on {host}:3306 lets root in without a password, so sandboxes cannot "
                "reach it (every user would be its root): MySQL consoles and users' code "
                "cannot connect until root has a password (then name it in "
                "WARREN_DATABASE_ADMINS_FILE), or set WARREN_SANDBOX_ALLOW yourself."
            )
        self.stdout.write(",".join(str(port) for port in ports))
