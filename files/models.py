from django.conf import settings
from django.db import models


class HomeMove(models.Model):
    """A user's home moved to another file server: copied while they work, then switched.

    Staff start one in the admin (files/moves.py does the work, from a task); the row records
    how it went and how long the user was without their files (the final pass to the switch).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        COPYING = "copying", "Copying while the user works"
        SWITCHING = "switching", "Final pass: the user's processes are stopped"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (the user stays where they were)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="home_moves"
    )
    source = models.ForeignKey(
        "servers.Server", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    target = models.ForeignKey(
        "servers.Server",
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": "file"},
        help_text="The file server the home goes to.",
    )
    homes_destination = models.CharField(
        max_length=255,
        blank=True,
        help_text="Where the source's agent reaches the target's homes root: rsync://host/module "
        "or a path mounted on the source. Blank: the target's own homes root, as its agent "
        "reports it (same path on both, or one machine).",
    )
    www_destination = models.CharField(
        max_length=255, blank=True, help_text="The same for the web directories' root."
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    passes = models.PositiveSmallIntegerField(default=0)
    downtime_seconds = models.FloatField(
        null=True, blank=True, help_text="From stopping the user's processes to the switch."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One move at a time per user: two would race each other's final pass.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(state__in=["pending", "copying", "switching"]),
                name="home_move_one_at_a_time",
            )
        ]

    def __str__(self):
        return f"{self.user} to {self.target}: {self.get_state_display()}"

    @property
    def in_progress(self) -> bool:
        return self.state in (self.State.PENDING, self.State.COPYING, self.State.SWITCHING)


class HomeMountsBound(models.Model):
    """The agent of an execution server that last had every home (and web directory) bound
    there: its boot and its start, as op ``info`` reports them.

    Binds do not outlive a reboot, nor an agent restart that lost its mount namespace; beat's
    ``files.tasks.home_mounts_check_all`` binds every home there again when ``info`` says
    otherwise (files/services.py ``home_mounts_restore``). Forgotten when a bind there fails,
    so the next check binds them all.
    """

    server = models.OneToOneField(
        "servers.Server", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    boot_id = models.CharField(max_length=64, blank=True)
    agent_started = models.CharField(max_length=64, blank=True)
    bound_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "home mounts bound"
        verbose_name_plural = "home mounts bound"

    def __str__(self):
        return f"homes bound on {self.server} (boot {self.boot_id}, agent {self.agent_started})"
