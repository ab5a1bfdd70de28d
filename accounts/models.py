from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from accounts.validators import UsernameValidator

MIB = 1024 * 1024
GIB = 1024 * MIB


class LimitFields(models.Model):
    """The limits a plan grants; shared by Plan and a user's CustomLimits.

    ``None`` in a count means unlimited.
    """

    cpu_seconds_per_day = models.PositiveIntegerField()
    max_consoles = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: unlimited")
    max_web_apps = models.PositiveIntegerField()
    max_web_workers_per_app = models.PositiveIntegerField()
    disk_bytes = models.PositiveBigIntegerField()
    max_scheduled_tasks = models.PositiveIntegerField()
    # Commands kept running by the task server (schedules.AlwaysOnTask): paid plans only.
    max_always_on_tasks = models.PositiveIntegerField(default=0)
    postgres_allowed = models.BooleanField(default=False)
    custom_domains_allowed = models.BooleanField(default=False)
    # SSH logins into the sandbox (the ssh app's keys, ssh_gateway): paid plans only.
    ssh_allowed = models.BooleanField(default=False)

    class Meta:
        abstract = True


class Plan(LimitFields):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(unique=True)
    monthly_price_minor = models.PositiveIntegerField(
        default=0, help_text="Price per month in minor units (cents), before VAT."
    )
    currency = models.CharField(max_length=3, default="EUR")
    is_public = models.BooleanField(default=True, help_text="Offered on the pricing page.")
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "monthly_price_minor"]

    def __str__(self):
        return self.name

    @property
    def is_free(self) -> bool:
        return self.monthly_price_minor == 0

    @property
    def monthly_price_display(self) -> str:
        major, minor = divmod(self.monthly_price_minor, 100)
        return f"{self.currency} {major}.{minor:02d}"


DEFAULT_PLAN_SLUG = "beginner"


class WarrenUserManager(UserManager):
    def _create_user(self, username, email, password, **extra_fields):
        # Every account starts on the free plan unless told otherwise (createsuperuser too).
        if "plan" not in extra_fields and "plan_id" not in extra_fields:
            extra_fields["plan"] = Plan.objects.get(slug=DEFAULT_PLAN_SLUG)
        return super()._create_user(username, email, password, **extra_fields)


class User(AbstractUser):
    """A Warren account: a login, a Unix identity (``uid``) and a plan."""

    username = models.CharField(
        "username",
        max_length=30,
        unique=True,
        validators=[UsernameValidator()],
        help_text="3-30 lowercase letters, digits or hyphens, starting with a letter.",
        error_messages={"unique": "Sorry, that username is taken."},
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="users")
    file_server = models.ForeignKey(
        "servers.Server",
        on_delete=models.PROTECT,
        related_name="users",
        null=True,
        blank=True,
        limit_choices_to={"kind": "file"},
        help_text="The file server that holds this user's home.",
    )

    objects = WarrenUserManager()

    @property
    def uid(self) -> int:
        """The Unix uid (and gid) of this user's processes and files."""
        return settings.WARREN_UID_BASE + self.pk

    @property
    def home_path(self) -> str:
        """The home as every sandbox sees it."""
        return f"/home/{self.username}"


class CustomLimits(LimitFields):
    """Limits a user holds instead of their plan's (sold by billing, or set by staff)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="custom_limits")
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "custom limits"

    def __str__(self):
        return f"Custom limits for {self.user}"
