"""Create (once) the demo user and the staff user of the embedded default, and print them."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from accounts.services import user_provision
from config.env import local_secret

DEMO_USERS = (
    # username, email, is_staff
    ("demo", "demo@example.com", False),
    ("staff-demo", "staff@example.com", True),
)


class Command(BaseCommand):
    help = "Create the demo and staff users if they do not exist, then print their credentials."

    def handle(self, *args, **options):
        for username, email, is_staff in DEMO_USERS:
            password = self._password(username)
            self._ensure(username, email, is_staff, password)
            role = "staff (admin at /admin/)" if is_staff else "user"
            self.stdout.write(
                self.style.SUCCESS(f"  {role:<28} username: {username:<12} password: {password}")
            )

    def _password(self, username: str) -> str:
        # Random per installation, kept in var/ so every run prints the same working password.
        path = settings.VAR_DIR / "secrets" / f"demo-{username}"
        return local_secret(path)[:16]

    @transaction.atomic
    def _ensure(self, username, email, is_staff, password):
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username, email, password, is_staff=is_staff, is_superuser=is_staff
            )
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        user_provision(user=user)
