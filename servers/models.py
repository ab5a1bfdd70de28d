from django.db import models


class Server(models.Model):
    """A machine in one role: where consoles, web apps, tasks or homes live.

    Scaling out means adding rows (and machines), never changing code. One machine with
    several roles has one row per role.
    """

    class Kind(models.TextChoices):
        CONSOLE = "console", "Console server"
        WEB = "web", "Web server"
        TASK = "task", "Task server"
        FILE = "file", "File server"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    hostname = models.CharField(max_length=253)
    execution_agent_socket = models.CharField(
        max_length=255,
        blank=True,
        help_text="Unix socket of the execution agent (execution servers).",
    )
    fileserver_agent_url = models.URLField(
        blank=True, help_text="Base URL of the fileserver agent (file servers)."
    )
    is_active = models.BooleanField(
        default=True, help_text="Inactive servers get no new users, consoles or apps."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "hostname"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "hostname"], name="server_unique_kind_host")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.hostname}"
