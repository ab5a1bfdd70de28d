from django.core.management.base import BaseCommand

from databases.models import DatabaseServer


class Command(BaseCommand):
    help = "Register this machine's MariaDB and PostgreSQL as the users' database servers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host, **options):
        for kind, port, admin in (
            (DatabaseServer.Kind.MYSQL, 3306, "root"),
            (DatabaseServer.Kind.POSTGRES, 5432, "postgres"),
        ):
            server, _ = DatabaseServer.objects.get_or_create(
                kind=kind, host=host, port=port, name_prefix="", defaults={"admin_user": admin}
            )
            self.stdout.write(f"registered {server}")
