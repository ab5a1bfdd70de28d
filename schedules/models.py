import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class ScheduledTask(models.Model):
    """A command a user runs daily at HH:MM or hourly at :MM (UTC), as themselves.

    ``next_run_at`` is stored (and indexed for enabled tasks) so that the scheduler's minute
    costs one range query, however many tasks the platform holds. Free accounts' tasks carry
    ``expires_at`` (four weeks after creation or the last Extend); paid accounts' none.
    """

    class Interval(models.TextChoices):
        DAILY = "daily", "Daily"
        HOURLY = "hourly", "Hourly"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_tasks"
    )
    server = models.ForeignKey(
        "servers.Server",
        on_delete=models.PROTECT,
        related_name="scheduled_tasks",
        help_text="The task server that runs it (its exec.<hostname> queue).",
    )
    command = models.TextField(max_length=1000)
    interval = models.CharField(max_length=6, choices=Interval.choices, default=Interval.DAILY)
    hour = models.PositiveSmallIntegerField(null=True, blank=True, help_text="UTC; daily only.")
    minute = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(help_text="The next slot, UTC.")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Free accounts: stops running after this. Blank: never."
    )
    expiry_reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            # The scheduler's one query: enabled tasks whose slot has come.
            models.Index(
                fields=["next_run_at"], condition=Q(enabled=True), name="schedtask_due_idx"
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="schedtask_expiry_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(minute__lte=59), name="schedtask_minute_range"),
            models.CheckConstraint(
                condition=Q(hour__isnull=True) | Q(hour__lte=23), name="schedtask_hour_range"
            ),
        ]

    def __str__(self):
        return f"{self.owner}: {self.label}"

    def get_absolute_url(self) -> str:
        return reverse("schedules:edit", args=[self.pk])

    @property
    def label(self) -> str:
        return self.description or self.command[:60]

    @property
    def schedule_display(self) -> str:
        if self.interval == self.Interval.HOURLY:
            return f"Hourly at :{self.minute:02d}"
        return f"Daily at {self.hour:02d}:{self.minute:02d} UTC"

    @property
    def log_relative_path(self) -> str:
        """Where the agent appends its output, relative to the home."""
        return f"task_logs/task-{self.pk}.log"


def new_run_key() -> str:
    return secrets.token_hex(10)


class TaskRun(models.Model):
    """One run of a task: claimed once per slot (unique task + scheduled_for), then filled in.

    The unique pair is what stops two schedulers (or a redelivered message) running one slot
    twice; Run now uses the moment it was clicked as its slot.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Finished"
        KILLED = "killed", "Killed at the time limit"
        FAILED = "failed", "Could not start"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Run now"

    task = models.ForeignKey(ScheduledTask, on_delete=models.CASCADE, related_name="runs")
    # The run's name on the task server (its result file, tag and cgroup): random, because
    # database ids repeat across installs and restores, and a stale result must not land here.
    agent_key = models.CharField(max_length=40, unique=True, default=new_run_key, editable=False)
    scheduled_for = models.DateTimeField()
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.SCHEDULE)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_status = models.IntegerField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            models.UniqueConstraint(fields=["task", "scheduled_for"], name="taskrun_one_per_slot")
        ]
        indexes = [models.Index(fields=["task", "-scheduled_for"], name="taskrun_latest_idx")]

    def __str__(self):
        return f"{self.task_id} @ {self.scheduled_for:%Y-%m-%d %H:%M}: {self.state}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class AlwaysOnTask(models.Model):
    """A command its task server keeps running (paid plans): restarted with back-off if it exits.

    The execution agent supervises it on its own; Django sends the owner's whole set of enabled
    tasks to the server on every change (schedules.tasks.push_always_on).
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="always_on_tasks"
    )
    server = models.ForeignKey(
        "servers.Server",
        on_delete=models.PROTECT,
        related_name="always_on_tasks",
        help_text="The task server that keeps it running (its exec.<hostname> queue).",
    )
    command = models.TextField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.owner}: {self.label}"

    def get_absolute_url(self) -> str:
        return reverse("schedules:always_on_edit", args=[self.pk])

    @property
    def label(self) -> str:
        return self.description or self.command[:60]

    @property
    def log_relative_path(self) -> str:
        """Where the agent appends its output and its starts, exits and waits."""
        return f"task_logs/always-on-{self.pk}.log"
