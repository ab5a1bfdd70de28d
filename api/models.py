"""API tokens: what a script shows instead of a session cookie.

Only a SHA-256 digest of each token is stored: the token has 256 bits of randomness, so a
salted slow hash would add nothing but cost on every request, and a leaked table gives
nobody a token. The first characters (``prefix``) are kept in clear so the owner can tell
their tokens apart in the list and in their scripts.
"""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """One token of one user: shown once at creation, then only its prefix."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    # Given to the user's consoles and tasks as $API_TOKEN (derived again from SECRET_KEY
    # on each start rather than stored: see api.tokens.sandbox_token).
    in_sandboxes = models.BooleanField(default=False)
    salt = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One sandbox token per user: $API_TOKEN names one token.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(in_sandboxes=True),
                name="api_one_sandbox_token_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
