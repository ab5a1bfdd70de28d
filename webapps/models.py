import secrets

from django.conf import settings
from django.db import models


def new_domain_token() -> str:
    return secrets.token_urlsafe(24)


class WebApp(models.Model):
    """A user's WSGI site: served by a sandboxed uWSGI vassal behind nginx on a web server."""

    class Framework(models.TextChoices):
        FLASK = "flask", "Flask"
        DJANGO = "django", "Django"
        BOTTLE = "bottle", "Bottle"
        MANUAL = "manual", "Manual configuration"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webapps"
    )
    server = models.ForeignKey(
        "servers.Server",
        on_delete=models.PROTECT,
        related_name="webapps",
        null=True,
        blank=True,
        limit_choices_to={"kind": "web"},
        help_text="The web server whose Emperor and nginx serve this app.",
    )
    domain = models.CharField(max_length=253, unique=True)
    framework = models.CharField(max_length=10, choices=Framework.choices)
    python_version = models.CharField(max_length=8)
    source_dir = models.CharField(max_length=1024, blank=True)
    working_dir = models.CharField(max_length=1024)
    virtualenv = models.CharField(max_length=1024, blank=True)
    workers = models.PositiveSmallIntegerField(default=1)
    enabled = models.BooleanField(default=True)
    force_https = models.BooleanField(default=False)
    # Strict-Transport-Security max-age sent over HTTPS; 0 sends none.
    hsts_max_age = models.PositiveIntegerField(default=0)
    auth_username = models.CharField(max_length=64, blank=True)
    # A crypt(3) SHA-512 hash for nginx's htpasswd; the password itself is never stored.
    auth_password_hash = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_reload_at = models.DateTimeField(null=True, blank=True)
    last_reload_ok = models.BooleanField(null=True, blank=True)
    last_reload_message = models.TextField(blank=True)
    # When a setting that reaches the web server only on Reload last changed (settings, static
    # mappings, password), and when the web server last took the configuration (the start of
    # a Reload it answered): the page says a Reload is pending while the first is later.
    changed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # A custom domain is served only once a TXT record _warren-challenge.<domain> holds this
    # token; verified_domain is the domain that record was found for.
    domain_token = models.CharField(max_length=64, default=new_domain_token)
    verified_domain = models.CharField(max_length=253, blank=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain

    @property
    def slug(self) -> str:
        """The domain with dots as underscores, as in PythonAnywhere's WSGI file names."""
        return self.domain.replace(".", "_")

    @property
    def wsgi_file(self) -> str:
        return f"/var/www/{self.slug}_wsgi.py"

    @property
    def password_protected(self) -> bool:
        return bool(self.auth_username and self.auth_password_hash)

    @property
    def own_address(self) -> bool:
        """The user's <username>.<WARREN_WEBAPPS_DOMAIN>, which needs no DNS proof."""
        return self.domain == f"{self.user.username}.{settings.WARREN_WEBAPPS_DOMAIN}".lower()

    @property
    def domain_verified(self) -> bool:
        return self.own_address or self.verified_domain == self.domain

    @property
    def challenge_name(self) -> str:
        return f"_warren-challenge.{self.domain}"

    @property
    def changed_since_reload(self) -> bool:
        """Saved changes the web server has not been given yet."""
        if self.changed_at is None:
            return False
        return self.applied_at is None or self.changed_at > self.applied_at

    @property
    def url(self) -> str:
        if self.force_https:
            return self.https_url
        port = settings.WARREN_WEBAPPS_PORT
        suffix = "" if port == 80 else f":{port}"
        return f"http://{self.domain}{suffix}/"

    @property
    def https_url(self) -> str:
        port = settings.WARREN_WEBAPPS_HTTPS_PORT
        suffix = "" if port == 443 else f":{port}"
        return f"https://{self.domain}{suffix}/"


class StaticMapping(models.Model):
    """A URL prefix served straight from a directory in the owner's home."""

    webapp = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="static_mappings")
    url = models.CharField(max_length=256)
    directory = models.CharField(max_length=1024)
    # Names starting with a dot (.git, .env, .bash_history) are refused unless this is set.
    dotfiles = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]
        constraints = [
            models.UniqueConstraint(fields=["webapp", "url"], name="static_mapping_unique_url")
        ]

    def __str__(self):
        return f"{self.url} -> {self.directory}"

    @property
    def covers_home(self) -> bool:
        """The whole home is published: every file in it, not only a site's assets."""
        return self.directory.rstrip("/") == self.webapp.user.home_path.rstrip("/")


class Certificate(models.Model):
    """A custom domain's HTTPS certificate: uploaded by its owner or issued over ACME.

    chain_pem and key_pem are what the web server serves (empty until one is issued); state
    says how the latest issuance or renewal went, so a failed renewal keeps serving the old
    certificate until it expires.
    """

    class Source(models.TextChoices):
        ACME = "acme", "Issued automatically (ACME)"
        UPLOADED = "uploaded", "Uploaded"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ISSUED = "issued", "Issued"
        FAILED = "failed", "Failed"

    webapp = models.OneToOneField(WebApp, on_delete=models.CASCADE, related_name="certificate")
    # The name it was issued for: after a domain change the certificate is replaced.
    domain = models.CharField(max_length=253)
    source = models.CharField(max_length=10, choices=Source.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    failure_reason = models.TextField(blank=True)
    issuer = models.CharField(max_length=500, blank=True)
    names = models.JSONField(default=list, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    renew_after = models.DateTimeField(null=True, blank=True)
    chain_pem = models.TextField(blank=True)
    key_pem = models.TextField(blank=True)
    # Failed ACME attempts in a row, and when the next one may run (backoff).
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Renewal failures are emailed once per failed renewal, not once per retry.
    failure_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["source", "renew_after"], name="certificate_renew_due")]

    def __str__(self):
        return f"{self.domain} ({self.get_source_display()}, {self.state_label})"

    @property
    def state_label(self) -> str:
        if self.state == self.State.FAILED:
            return f"failed: {self.failure_reason}"
        return self.state

    @property
    def serving(self) -> bool:
        """The web server has a certificate for the domain (whatever the latest attempt)."""
        return bool(self.chain_pem and self.key_pem and self.domain == self.webapp.domain)
