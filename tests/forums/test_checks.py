from django.core import checks

from forums.checks import forums_akismet_key_set


def test_a_deployment_without_an_akismet_key_is_warned_that_posts_wait_for_staff(settings):
    settings.WARREN_AKISMET_API_KEY = ""
    [warning] = forums_akismet_key_set(None)
    assert warning.id == "forums.W001" and warning.level == checks.WARNING
    settings.WARREN_AKISMET_API_KEY = "a-key"
    assert forums_akismet_key_set(None) == []
