from datetime import datetime, timedelta

from django.conf import settings
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

    @property
    def agent_queue(self) -> str:
        """The Celery queue of tasks that must run beside this server's execution agent.

        The agent listens on a local Unix socket, so a task that calls it (CPU accounting)
        runs on a worker on that machine, consuming this queue.
        """
        return f"exec.{self.hostname}"


def empty_hours() -> list[int]:
    return [0] * CpuAccount.HOURS


class CpuAccount(models.Model):
    """A user's CPU-seconds day: when it resets, what it has used, whether it is tarpitted.

    Each user has their own reset time (the time of day they signed up), so resets spread
    over the day instead of every user leaving the tarpit at midnight at once.
    """

    HOURS = 24

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cpu_account"
    )
    reset_time = models.TimeField(help_text="UTC time of day the allowance starts again.")
    window_start = models.DateTimeField(help_text="Start of the current day window.")
    used_usec = models.BigIntegerField(default=0, help_text="CPU time used in this window.")
    hourly_usec = models.JSONField(
        default=empty_hours, help_text="CPU time per hour of the window (the Dashboard's chart)."
    )
    tarpitted = models.BooleanField(
        default=False, help_text="Over the allowance: the CPU weight is lowered until the reset."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CPU account"

    def __str__(self):
        return f"CPU of {self.user}: {self.used_seconds:.0f} s since {self.window_start:%H:%M}"

    @property
    def window_end(self) -> datetime:
        return self.window_start + timedelta(days=1)

    @property
    def used_seconds(self) -> float:
        return self.used_usec / 1e6


class CpuCounter(models.Model):
    """The last cumulative cgroup reading of a user on one execution server."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cpu_counters"
    )
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="cpu_counters")
    last_usec = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(help_text="When the reading last changed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "server"], name="cpu_counter_unique_user_server"
            )
        ]

    def __str__(self):
        return f"{self.user} on {self.server}: {self.last_usec} µs"
