"""Every new post and edit goes through Akismet (the akismet package's offline test clients):
ham publishes, spam holds, discard drops, unreachable keeps it pending and retries, no key
waits for staff. Nothing reaches other people unchecked."""

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forums import services
from forums.models import HeldPost, Post, Status, Topic
from forums.tasks import backoff_seconds
from tests.forums.helpers import open_topic, reply_to

pytestmark = pytest.mark.django_db


def test_ham_is_published_and_others_see_it(
    user, outsider_client, category, akismet_answers, calls, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    assert topic.status == Status.PUBLISHED
    post = topic.posts.get()
    assert post.status == Status.PUBLISHED and post.checked_at is not None
    operation, ip, arguments = calls[-1]
    assert operation == "comment-check" and ip == "192.0.2.7"
    assert arguments["comment_content"] == "Hello there"
    assert arguments["comment_type"] == "forum-post"
    assert arguments["comment_author"] == "alice"
    assert arguments["user_agent"] == "pytest"
    assert arguments["is_test"] is True  # not production: Akismet must not learn from it
    page = outsider_client.get(reverse("forums:topic", args=[topic.pk]))
    assert page.status_code == 200 and "Hello there" in page.content.decode()


def test_spam_is_held_for_the_moderation_queue_and_hidden_from_others(
    user,
    alice_client,
    outsider_client,
    staff_client,
    category,
    akismet_answers,
    django_capture_on_commit_callbacks,
):
    akismet_answers("spam")
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    post = topic.posts.get()
    assert (post.status, post.held_reason) == (Status.HELD, Post.HeldReason.SPAM)
    assert topic.status == Status.HELD
    assert outsider_client.get(reverse("forums:topic", args=[topic.pk])).status_code == 404
    assert (
        "How do I X?"
        not in outsider_client.get(reverse("forums:category", args=["help"])).content.decode()
    )
    mine = alice_client.get(reverse("forums:topic", args=[topic.pk])).content.decode()
    assert "Held for moderation" in mine
    queue = staff_client.get(reverse("admin:forums_heldpost_changelist")).content.decode()
    assert "Hello there" in queue
    assert HeldPost.objects.filter(pk=post.pk).exists()


def test_blatant_spam_is_dropped_and_logged(
    user, category, akismet_answers, caplog, django_capture_on_commit_callbacks
):
    akismet_answers("discard")
    with caplog.at_level(logging.WARNING, logger="forums.services"):
        topic_count = Topic.objects.count()
        with django_capture_on_commit_callbacks(execute=True):
            services.topic_create(
                author=user,
                category=category,
                title="Cheap pills",
                body="buy buy buy",
                ip="192.0.2.9",
                user_agent="spambot",
            )
    assert Topic.objects.count() == topic_count
    assert not Post.objects.filter(body="buy buy buy").exists()
    assert "dropped blatant spam by alice from 192.0.2.9" in caplog.text
    assert "buy buy buy" in caplog.text


def test_a_blatant_reply_is_dropped_but_the_topic_stays(
    user, outsider, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    akismet_answers("discard")
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_create(
            author=outsider, topic=topic, body="spam reply", ip="192.0.2.1", user_agent="x"
        )
    assert list(topic.posts.values_list("body", flat=True)) == ["Hello there"]
    topic.refresh_from_db()
    assert topic.status == Status.PUBLISHED and topic.reply_count == 0


def test_akismet_unreachable_keeps_the_post_pending_and_a_later_sweep_publishes_it(
    user, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    akismet_answers("unreachable")
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    post = topic.posts.get()
    assert post.status == Status.PENDING and topic.status == Status.PENDING
    assert post.check_attempts == 1 and post.last_check_error
    assert outsider_client.get(reverse("forums:topic", args=[topic.pk])).status_code == 404

    # Still down at the sweep: still pending, never published, never lost.
    later = timezone.now() + timedelta(hours=1)
    assert services.posts_recheck_stale(now=later) == [post.pk]
    post.refresh_from_db()
    assert post.status == Status.PENDING and post.check_attempts == 2

    akismet_answers("ham")
    with django_capture_on_commit_callbacks(execute=True):
        services.posts_recheck_stale(now=later)
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED and post.last_check_error == ""
    assert outsider_client.get(reverse("forums:topic", args=[topic.pk])).status_code == 200


def test_the_sweep_leaves_fresh_pending_posts_to_their_own_retries(
    user, category, akismet_answers, django_capture_on_commit_callbacks
):
    akismet_answers("unreachable")
    open_topic(user, category, capture=django_capture_on_commit_callbacks)
    assert services.posts_recheck_stale(now=timezone.now()) == []


def test_retries_back_off_up_to_the_cap(settings):
    settings.WARREN_AKISMET_RETRY_MAX_SECONDS = 600
    assert backoff_seconds(0) <= 10
    assert 40 <= backoff_seconds(3) <= 80
    assert 300 <= backoff_seconds(50) <= 600


def test_a_refused_key_holds_posts_for_staff(
    user, category, akismet_answers, django_capture_on_commit_callbacks
):
    akismet_answers("invalid_key")
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    assert (post.status, post.held_reason) == (Status.HELD, Post.HeldReason.REFUSED)


def test_without_a_key_posts_wait_for_staff_and_are_never_published_unchecked(
    user,
    staff_user,
    outsider_client,
    category,
    akismet_answers,
    calls,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WARREN_AKISMET_API_KEY = ""
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    post = topic.posts.get()
    assert (post.status, post.held_reason) == (Status.HELD, Post.HeldReason.NO_KEY)
    assert calls == []
    assert outsider_client.get(reverse("forums:topic", args=[topic.pk])).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        services.post_mark(staff=staff_user, post=post, spam_=False)
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED
    assert calls == []  # Akismet never judged it: nothing to correct
    assert outsider_client.get(reverse("forums:topic", args=[topic.pk])).status_code == 200


def test_staff_marking_spam_and_ham_is_reported_to_akismet(
    user, staff_user, category, akismet_answers, calls, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    post = topic.posts.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.post_mark(staff=staff_user, post=post, spam_=True)
    post.refresh_from_db()
    assert (post.status, post.held_reason) == (Status.HELD, Post.HeldReason.STAFF)
    assert calls[-1][0] == "submit-spam" and calls[-1][2]["comment_content"] == "Hello there"

    with django_capture_on_commit_callbacks(execute=True):
        services.post_mark(staff=staff_user, post=post, spam_=False)
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED
    assert calls[-1][0] == "submit-ham"


def test_the_admin_queue_actions_mark_ham_and_tell_akismet(
    user, staff_client, category, akismet_answers, calls, django_capture_on_commit_callbacks
):
    akismet_answers("spam")
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:forums_heldpost_changelist"),
            {"action": "mark_ham", "_selected_action": [post.pk]},
        )
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED
    assert calls[-1][0] == "submit-ham"


def test_an_edit_is_checked_again_and_hidden_until_then(
    user, category, akismet_answers, calls, django_capture_on_commit_callbacks
):
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    akismet_answers("unreachable")
    with django_capture_on_commit_callbacks(execute=True):
        services.post_edit(author=user, post=post, body="Edited text")
    post.refresh_from_db()
    assert post.status == Status.PENDING and post.revision == 2
    assert post.topic.status == Status.PENDING

    akismet_answers("ham")
    with django_capture_on_commit_callbacks(execute=True):
        services.posts_recheck_stale(now=timezone.now() + timedelta(hours=1))
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED
    assert calls[-1][2]["recheck_reason"] == "edit"
    assert calls[-1][2]["comment_content"] == "Edited text"


def test_an_edit_akismet_calls_blatant_is_held_not_dropped(
    user, outsider, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    reply_to(topic, outsider, capture=django_capture_on_commit_callbacks)
    post = topic.posts.get(is_opening=True)
    akismet_answers("discard")
    with django_capture_on_commit_callbacks(execute=True):
        services.post_edit(author=user, post=post, body="now blatant spam")
    post.refresh_from_db()
    assert (post.status, post.held_reason) == (Status.HELD, Post.HeldReason.SPAM)
    assert topic.posts.count() == 2


def test_a_check_of_an_older_revision_decides_nothing(
    user, category, akismet_answers, django_capture_on_commit_callbacks
):
    akismet_answers("unreachable")
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    akismet_answers("ham")
    assert services.post_check(post_id=post.pk, revision=post.revision + 1) == "stale"
    post.refresh_from_db()
    assert post.status == Status.PENDING
