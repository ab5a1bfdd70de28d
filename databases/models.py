from django.conf import settings
from django.db import models


class DatabaseServer(models.Model):
    """A MariaDB or PostgreSQL server where users' databases live (a row per server).

    Warren logs in as ``admin_user``; the password is never stored here, only the name of an
    entry in the secrets file (``WARREN_DATABASE_ADMINS_FILE``), so neither a page, the admin
    nor a database dump shows it.
    """

    class Kind(models.TextChoices):
        MYSQL = "mysql", "MySQL (MariaDB)"
        POSTGRES = "postgres", "PostgreSQL"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    host = models.CharField(max_length=253, help_text="Where users' code connects to it.")
    port = models.PositiveIntegerField()
    admin_user = models.CharField(
        max_length=80, help_text="The account Warren creates users and databases with."
    )
    admin_secret_name = models.CharField(
        max_length=80,
        blank=True,
        help_text="Name of the admin password in WARREN_DATABASE_ADMINS_FILE (blank: none).",
    )
    name_prefix = models.CharField(
        max_length=16,
        blank=True,
        help_text="Put before every login and database name Warren makes here (for Warren "
        "installations that share one server); blank in the usual case.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive servers get no new users.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "host", "port", "name_prefix"], name="database_server_unique"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.host}:{self.port}"


class DatabaseAccount(models.Model):
    """A user's login on one database server (a MariaDB user, a PostgreSQL role)."""

    class State(models.TextChoices):
        CREATING = "creating", "Creating…"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        SUSPENDED = "suspended", "Suspended (add-on dropped)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="database_accounts"
    )
    server = models.ForeignKey(DatabaseServer, on_delete=models.PROTECT, related_name="accounts")
    login = models.CharField(max_length=80, help_text="The name the user logs in with.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.CREATING)
    # The password as the engine stores it (MariaDB's native hash, PostgreSQL's SCRAM
    # verifier), kept only until the task has applied it: the plain password never reaches
    # the broker or Warren's database.
    pending_verifier = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=300, blank=True)
    suspended_at = models.DateTimeField(
        null=True, blank=True, help_text="When the add-on was dropped (data kept for a while)."
    )
    warned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "server"], name="database_account_unique"),
            models.UniqueConstraint(fields=["server", "login"], name="database_login_unique"),
        ]

    def __str__(self):
        return f"{self.login} on {self.server}"


class Database(models.Model):
    """One of a user's databases, ``<username>$<name>`` on their account's server."""

    class State(models.TextChoices):
        CREATING = "creating", "Creating…"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        DELETING = "deleting", "Deleting…"

    account = models.ForeignKey(DatabaseAccount, on_delete=models.CASCADE, related_name="databases")
    name = models.CharField(max_length=64, help_text="The full name, <username>$<name>.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.CREATING)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="database_unique_name")
        ]

    def __str__(self):
        return self.name
