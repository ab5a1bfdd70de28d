import secrets

from django.conf import settings
from django.db import models

CONSOLE_ID_BYTES = 16  # 128 random bits: console ids are capabilities in URLs, never guessed


def new_console_id() -> str:
    """A fresh console id: 32 hex digits, valid as a URL part and as a tmux session name."""
    return secrets.token_hex(CONSOLE_ID_BYTES)


class Launcher(models.Model):
    """A user's own console type: a name and a Bash command, optionally in a folder of the home."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_launchers"
    )
    name = models.CharField(max_length=60)
    command = models.TextField(help_text="Run with bash -c, for example: workon env && ipython")
    working_directory = models.CharField(
        max_length=4096, blank=True, help_text="In-sandbox path inside the home; blank: the home."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name


class Console(models.Model):
    """A tmux session in the owner's sandboxed tmux server on one console server."""

    class Kind(models.TextChoices):
        BASH = "bash", "Bash"
        PYTHON = "python", "Python"
        IPYTHON = "ipython", "IPython"
        CUSTOM = "custom", "Custom"
        RUN = "run", "Save and Run"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DEAD = "dead", "Finished"

    id = models.CharField(primary_key=True, max_length=64, default=new_console_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consoles"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=120)
    launcher = models.ForeignKey(
        Launcher, on_delete=models.SET_NULL, null=True, blank=True, related_name="consoles"
    )
    server = models.ForeignKey(
        "servers.Server",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consoles",
        help_text="The console server whose tmux holds this console.",
    )
    # What tmux runs, kept so that Restart starts the same thing again.
    argv = models.JSONField()
    cwd = models.CharField(max_length=4096)
    # Save and Run: the file this console runs (a new run of the same file replaces it).
    script_path = models.CharField(max_length=4096, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "state"], name="console_owner_state")]

    def __str__(self):
        return f"{self.title} ({self.owner})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("consoles:console", args=[self.pk])


class Share(models.Model):
    """Another user may watch (read_only) or also type into a console."""

    console = models.ForeignKey(Console, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_shares"
    )
    read_only = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["console", "user"], name="share_unique_console_user")
        ]

    def __str__(self):
        mode = "read-only" if self.read_only else "read-write"
        return f"{self.console_id} → {self.user} ({mode})"


class Preferences(models.Model):
    """A user's console preferences (kept here, not on accounts.User)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_preferences"
    )
    default_python = models.CharField(
        max_length=10, blank=True, help_text="Python 3 version for Save and Run; blank: newest."
    )

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self):
        return f"Console preferences of {self.user}"
