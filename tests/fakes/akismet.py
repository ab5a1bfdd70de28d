"""Akismet for tests: the akismet package's own offline clients (``akismet.TestSyncClient``,
which answers from fixed responses without touching the network), set to each verdict, and
a real ``akismet.SyncClient`` whose connections are refused (Akismet unreachable).

Every client records what it was asked in ``CALLS`` (operation, user_ip, arguments), so a
test can see that staff's verdicts reached Akismet as submit-spam / submit-ham.
``ConventionClient`` answers the way the real service treats its documented test author,
"akismet-guaranteed-spam": spam for that author, ham for anyone else (the browser story's
server uses it).
"""

from __future__ import annotations

import socket

import akismet
import httpx

CALLS: list[tuple[str, str, dict]] = []
GUARANTEED_SPAM_AUTHOR = "akismet-guaranteed-spam"


class _Recording:
    def comment_check(self, user_ip, **kwargs):
        CALLS.append(("comment-check", user_ip, kwargs))
        return super().comment_check(user_ip, **kwargs)

    def submit_spam(self, user_ip, **kwargs):
        CALLS.append(("submit-spam", user_ip, kwargs))
        return super().submit_spam(user_ip, **kwargs)

    def submit_ham(self, user_ip, **kwargs):
        CALLS.append(("submit-ham", user_ip, kwargs))
        return super().submit_ham(user_ip, **kwargs)


class HamClient(_Recording, akismet.TestSyncClient):
    comment_check_response = akismet.CheckResponse.HAM


class SpamClient(_Recording, akismet.TestSyncClient):
    comment_check_response = akismet.CheckResponse.SPAM


class DiscardClient(_Recording, akismet.TestSyncClient):
    comment_check_response = akismet.CheckResponse.DISCARD


class InvalidKeyClient(_Recording, akismet.TestSyncClient):
    verify_key_response = False


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class UnreachableClient(_Recording, akismet.SyncClient):
    """The real client, sent through a proxy port nobody listens on: every request fails to
    connect, as when Akismet (or the way to it) is down."""

    def __init__(self, config=None, http_client=None):
        proxy = f"http://127.0.0.1:{_closed_port()}"
        super().__init__(config=config, http_client=httpx.Client(proxy=proxy, timeout=2))


class ConventionClient(akismet.SyncClient):
    """Spam for Akismet's test author, ham for everyone else, from the offline clients."""

    def __init__(self, config=None, http_client=None):
        super().__init__(config=config, http_client=http_client or httpx.Client())
        self._ham = HamClient(config=config)
        self._spam = SpamClient(config=config)

    def verify_key(self, key=None, url=None):
        return self._ham.verify_key(key, url)

    def comment_check(self, user_ip, **kwargs):
        if kwargs.get("comment_author") == GUARANTEED_SPAM_AUTHOR:
            return self._spam.comment_check(user_ip, **kwargs)
        return self._ham.comment_check(user_ip, **kwargs)

    def submit_spam(self, user_ip, **kwargs):
        return self._ham.submit_spam(user_ip, **kwargs)

    def submit_ham(self, user_ip, **kwargs):
        return self._ham.submit_ham(user_ip, **kwargs)
