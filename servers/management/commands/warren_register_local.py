from django.core.management.base import BaseCommand

from servers.services import servers_register_local


class Command(BaseCommand):
    help = "Register this machine as console, web, task and file server (embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--hostname", default="127.0.0.1")

    def handle(self, *args, hostname, **options):
        for server in servers_register_local(hostname=hostname):
            self.stdout.write(f"registered {server}")
