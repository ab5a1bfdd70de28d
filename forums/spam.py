"""The adapter to Akismet (the ``akismet`` package's SyncClient): the only module that calls it.

Services ask ``verdict_of(post)`` and ``report(post, spam=...)``; what comes back is Warren's
words (``Verdict``), and Akismet's failures are two exceptions: ``Unreachable`` (retry later:
network, timeout, 5xx) and ``Refused`` (our key or site URL is wrong: staff must look).
"""

from __future__ import annotations

import enum
import logging

import akismet
from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class Verdict(enum.Enum):
    HAM = "ham"
    SPAM = "spam"
    DISCARD = "discard"  # "blatant" spam: Akismet's advice is to drop it unseen


class Unreachable(Exception):
    """Akismet could not be asked (network, timeout, an error status): ask again later."""


class Refused(Exception):
    """Akismet refused our configuration (key or site URL): retrying will not help."""


def configured() -> bool:
    return bool(settings.WARREN_AKISMET_API_KEY)


def _client() -> akismet.SyncClient:
    client_class = import_string(settings.WARREN_AKISMET_CLIENT)
    config = akismet.Config(
        key=settings.WARREN_AKISMET_API_KEY, url=settings.WARREN_AKISMET_SITE_URL
    )
    return client_class(config=config)


def _arguments(post, *, recheck: bool) -> dict:
    arguments = {
        "comment_content": post.body,
        "comment_type": "forum-post" if post.is_opening else "reply",
        "comment_author": post.author.username,
        "comment_author_email": post.author.email,
        "permalink": settings.WARREN_AKISMET_SITE_URL.rstrip("/")
        + reverse("forums:topic", args=[post.topic_id]),
        "user_agent": post.user_agent,
        "comment_date_gmt": post.created_at.isoformat(),
        "blog_charset": "UTF-8",
    }
    if post.edited_at is not None:
        arguments["comment_post_modified_gmt"] = post.edited_at.isoformat()
    if recheck:
        arguments["recheck_reason"] = "edit"
    if post.author.is_staff:
        arguments["user_role"] = "administrator"
    if not settings.PRODUCTION:
        # A development or test site with a real key must not train Akismet's classifier.
        arguments["is_test"] = True
    return arguments


def _call(what: str, call):
    try:
        with _client() as client:
            return call(client)
    except akismet.ConfigurationError as error:
        logger.error("akismet %s: configuration refused: %s", what, error)
        raise Refused(str(error)) from error
    except (akismet.RequestError, akismet.ProtocolError) as error:
        logger.warning("akismet %s: unreachable: %s", what, error)
        raise Unreachable(str(error) or type(error).__name__) from error


def verdict_of(post) -> Verdict:
    """Ask Akismet about ``post``'s current text."""
    answer = _call(
        "comment-check",
        lambda client: client.comment_check(
            post.author_ip or "127.0.0.1", **_arguments(post, recheck=post.revision > 1)
        ),
    )
    return {
        akismet.CheckResponse.HAM: Verdict.HAM,
        akismet.CheckResponse.SPAM: Verdict.SPAM,
        akismet.CheckResponse.DISCARD: Verdict.DISCARD,
    }[answer]


def report(post, *, spam: bool) -> None:
    """Tell Akismet it was wrong (or right) about ``post``: submit-spam or submit-ham."""
    arguments = _arguments(post, recheck=False)
    ip = post.author_ip or "127.0.0.1"
    if spam:
        _call("submit-spam", lambda client: client.submit_spam(ip, **arguments))
    else:
        _call("submit-ham", lambda client: client.submit_ham(ip, **arguments))
