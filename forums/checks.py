"""System checks on the forums' settings."""

from django.conf import settings
from django.core import checks


# A deployment check: a try-out without a key is normal (posts wait for staff), and a warning
# at every start of the embedded default would teach operators to ignore warnings.
@checks.register(deploy=True)
def forums_akismet_key_set(app_configs, **kwargs):
    """Without an Akismet key no forum post is published until staff approve it."""
    if settings.WARREN_AKISMET_API_KEY:
        return []
    return [
        checks.Warning(
            "WARREN_AKISMET_API_KEY is not set: every forum post waits in the admin's "
            "moderation queue (Forums: Held posts) until staff publish it.",
            hint="Get a key at akismet.com and set WARREN_AKISMET_API_KEY (and "
            "WARREN_AKISMET_SITE_URL if it is registered for another address).",
            id="forums.W001",
        )
    ]
