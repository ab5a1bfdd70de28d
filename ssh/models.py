from django.conf import settings
from django.db import models


class SSHKey(models.Model):
    """A public key its owner logs in with (ssh_gateway asks for it by key, not by user).

    A key belongs to one account: the gateway finds the user from the key alone (everyone
    logs in as the same login name), so the fingerprint is unique across all users.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key_type = models.CharField(max_length=64)
    key_data = models.TextField(help_text="The base64 blob, as it appears in authorized_keys.")
    fingerprint = models.CharField(max_length=64, unique=True)
    bits = models.PositiveIntegerField()
    comment = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "SSH key"

    def __str__(self):
        return f"{self.key_type} {self.fingerprint} ({self.comment or 'no comment'})"
