from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from files import mounts
from files.services import home_mounts_sync


class Command(BaseCommand):
    help = (
        "Bind every user's home (and web directory, with WARREN_FILESERVER_WWW_MOUNTS) from "
        "their file server on every execution server (WARREN_FILESERVER_MOUNTS), at once: beat "
        "does it within a minute of an execution server's agent coming back or joining."
    )

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="*", help="only these users (default: everyone)")

    def handle(self, *args, usernames, **options):
        if not mounts.configured():
            raise CommandError("WARREN_FILESERVER_MOUNTS is not set: homes are not bound per user")
        users = User.objects.filter(file_server__isnull=False).select_related("file_server")
        if usernames:
            users = users.filter(username__in=usernames)
        failed = 0
        for user in users.order_by("pk").iterator():
            for failure in home_mounts_sync(user=user):
                failed += 1
                self.stderr.write(f"{user.username}: {failure}")
        if failed:
            raise CommandError(f"{failed} binds failed (above); run again once fixed")
        self.stdout.write("every home is bound from its file server")
