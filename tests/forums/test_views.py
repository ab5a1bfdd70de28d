"""The Forums pages: the author and the outsider on every post URL, bad input (nothing
stored), flood limits, subscriptions' mail, staff's moderation, search, list query counts."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from forums.models import Ban, Post, Status, Subscription, Topic
from tests.factories import UserFactory
from tests.forums.helpers import open_topic, reply_to

pytestmark = pytest.mark.django_db


def _new_topic_url(category):
    return reverse("forums:topic_new", args=[category.slug])


def test_posting_a_topic_through_the_page_publishes_it_after_the_check(
    alice_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            _new_topic_url(category),
            {"title": "  Pip   install fails ", "body": "It says **no**"},
            HTTP_USER_AGENT="Firefox",
        )
    topic = Topic.objects.get()
    assert response.status_code == 302 and response.url == reverse("forums:topic", args=[topic.pk])
    assert topic.title == "Pip install fails" and topic.status == Status.PUBLISHED
    post = topic.posts.get()
    assert post.user_agent == "Firefox" and post.author_ip == "127.0.0.1"
    assert "<strong>no</strong>" in post.body_html
    assert Subscription.objects.filter(user__username="alice", topic=topic).exists()


def test_a_pending_topic_shows_pending_to_its_author_and_is_a_404_to_others(
    user,
    alice_client,
    outsider_client,
    category,
    akismet_answers,
    django_capture_on_commit_callbacks,
):
    akismet_answers("unreachable")
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    url = reverse("forums:topic", args=[topic.pk])
    page = alice_client.get(url).content.decode()
    assert "Pending: being checked for spam" in page and "Hello there" in page
    assert outsider_client.get(url).status_code == 404
    assert (
        outsider_client.post(reverse("forums:reply", args=[topic.pk]), {"body": "hi"}).status_code
        == 404
    )
    assert (
        outsider_client.post(
            reverse("forums:subscribe", args=[topic.pk]), {"subscribed": "1"}
        ).status_code
        == 404
    )
    listing = outsider_client.get(reverse("forums:category", args=[category.slug])).content.decode()
    assert "How do I X?" not in listing
    assert (
        "How do I X?"
        in alice_client.get(reverse("forums:category", args=[category.slug])).content.decode()
    )


def test_a_pending_reply_is_invisible_to_others(
    user,
    outsider,
    alice_client,
    outsider_client,
    category,
    akismet_answers,
    django_capture_on_commit_callbacks,
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    akismet_answers("unreachable")
    reply_to(
        topic, outsider, capture=django_capture_on_commit_callbacks, body="Secret pending reply"
    )
    url = reverse("forums:topic", args=[topic.pk])
    assert "Secret pending reply" in outsider_client.get(url).content.decode()  # its author
    assert "Secret pending reply" not in alice_client.get(url).content.decode()


def test_editing_someone_elses_post_is_a_404_and_changes_nothing(
    user, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    url = reverse("forums:post_edit", args=[post.pk])
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url, {"title": "pwned", "body": "pwned"}).status_code == 404
    post.refresh_from_db()
    assert post.body == "Hello there" and post.topic.title == "How do I X?"
    assert Client().get(url).status_code == 302  # anonymous: to the login page


def test_the_author_edits_within_the_window_and_the_post_is_checked_again(
    user, alice_client, category, akismet_answers, calls, django_capture_on_commit_callbacks
):
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    url = reverse("forums:post_edit", args=[post.pk])
    assert "Hello there" in alice_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url, {"title": "Better title", "body": "Better text"})
    assert response.status_code == 302
    post.refresh_from_db()
    assert (post.body, post.topic.title, post.status) == (
        "Better text",
        "Better title",
        Status.PUBLISHED,
    )
    assert post.edited_at is not None and calls[-1][2]["recheck_reason"] == "edit"


def test_editing_after_the_window_is_refused(
    user, alice_client, category, settings, akismet_answers, django_capture_on_commit_callbacks
):
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    Post.objects.filter(pk=post.pk).update(created_at=timezone.now() - timedelta(hours=2))
    settings.WARREN_FORUMS_EDIT_WINDOW_MINUTES = 30
    response = alice_client.post(
        reverse("forums:post_edit", args=[post.pk]), {"title": "t", "body": "late"}
    )
    assert response.status_code == 400
    assert "Posts can be edited for 30 minutes after posting." in response.content.decode()
    post.refresh_from_db()
    assert post.body == "Hello there" and post.revision == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"title": "", "body": "text"}, "A topic needs a title."),
        ({"title": "   ", "body": "text"}, "A topic needs a title."),
        ({"title": "x" * 201, "body": "text"}, "Titles are at most 200 characters."),
        ({"title": "Fine", "body": ""}, "Write something first."),
        (
            {"title": "Fine", "body": "y" * 20_001},
            "Posts are at most 20,000 characters; this one has 20,001.",
        ),
    ],
)
def test_bad_topics_are_refused_with_a_message_and_nothing_is_stored(
    form, message, alice_client, category, akismet_answers
):
    response = alice_client.post(_new_topic_url(category), form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Topic.objects.exists() and not Post.objects.exists()


def test_a_huge_reply_is_refused_and_nothing_is_stored(
    user, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    response = outsider_client.post(
        reverse("forums:reply", args=[topic.pk]), {"body": "z" * 1_000_000}
    )
    assert response.status_code == 400
    assert "Posts are at most 20,000 characters" in response.content.decode()
    assert topic.posts.count() == 1


def test_new_accounts_flooding_get_a_clear_message_and_nothing_is_stored(
    alice_client, user, category, settings, akismet_answers, django_capture_on_commit_callbacks
):
    settings.WARREN_FORUMS_NEW_ACCOUNT_POSTS_PER_HOUR = 3
    for number in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_client.post(
                _new_topic_url(category), {"title": f"t{number}", "body": "b"}
            )
        assert response.status_code == 302
    response = alice_client.post(_new_topic_url(category), {"title": "one more", "body": "b"})
    assert response.status_code == 429
    assert "New accounts may post 3 times an hour" in response.content.decode()
    assert Topic.objects.count() == 3 and Post.objects.count() == 3
    topic = Topic.objects.first()
    response = alice_client.post(reverse("forums:reply", args=[topic.pk]), {"body": "flood"})
    assert response.status_code == 429 and Post.objects.count() == 3


def test_older_accounts_are_not_rate_limited(
    veteran, category, settings, akismet_answers, django_capture_on_commit_callbacks
):
    settings.WARREN_FORUMS_NEW_ACCOUNT_POSTS_PER_HOUR = 1
    for number in range(3):
        open_topic(
            veteran, category, capture=django_capture_on_commit_callbacks, title=f"t{number}"
        )
    assert Topic.objects.count() == 3


def test_subscribers_get_one_email_per_reply_and_the_author_none(
    user, outsider, veteran, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)  # alice follows
    Subscription.objects.create(user=veteran, topic=topic)
    Subscription.objects.create(user=outsider, topic=topic)
    mail.outbox.clear()
    reply = reply_to(topic, outsider, capture=django_capture_on_commit_callbacks, body="Try pip -U")
    assert sorted(message.to[0] for message in mail.outbox) == [
        "alice@example.com",
        "vera@example.com",
    ]
    assert all("Try pip -U" in message.body for message in mail.outbox)
    assert all(f"/forums/t/{topic.pk}/#post-{reply.pk}" in message.body for message in mail.outbox)

    # An edit published again mails nobody a second time.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        from forums import services

        services.post_edit(author=outsider, post=reply, body="Try pip install -U")
    assert mail.outbox == []


def test_held_replies_mail_nobody_until_published(
    user, outsider, staff_user, category, akismet_answers, django_capture_on_commit_callbacks
):
    from forums import services

    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    akismet_answers("spam")
    mail.outbox.clear()
    reply = reply_to(topic, outsider, capture=django_capture_on_commit_callbacks)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        services.post_mark(staff=staff_user, post=reply, spam_=False)
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]


def test_following_and_unfollowing_a_topic(
    user, outsider, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    url = reverse("forums:subscribe", args=[topic.pk])
    outsider_client.post(url, {"subscribed": "1"})
    assert Subscription.objects.filter(user=outsider, topic=topic).exists()
    outsider_client.post(url, {"subscribed": "0"})
    assert not Subscription.objects.filter(user=outsider, topic=topic).exists()


def test_search_finds_published_titles_only(
    user, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    open_topic(
        user, category, capture=django_capture_on_commit_callbacks, title="Numpy import error"
    )
    akismet_answers("spam")
    open_topic(
        user, category, capture=django_capture_on_commit_callbacks, title="Numpy cheap pills"
    )
    page = outsider_client.get(reverse("forums:search"), {"q": "numpy"}).content.decode()
    assert "Numpy import error" in page and "cheap pills" not in page
    assert (
        "No topic title matches"
        in outsider_client.get(reverse("forums:search"), {"q": "zzz"}).content.decode()
    )


# --- staff ----------------------------------------------------------------------------------


def test_staff_pin_lock_and_move_a_topic_and_a_locked_topic_takes_no_replies(
    user,
    outsider_client,
    staff_client,
    category,
    other_category,
    akismet_answers,
    django_capture_on_commit_callbacks,
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    url = reverse("forums:topic_moderate", args=[topic.pk])
    staff_client.post(url, {"action": "pin"})
    staff_client.post(url, {"action": "lock"})
    staff_client.post(url, {"action": "move", "category": other_category.pk})
    topic.refresh_from_db()
    assert topic.pinned and topic.locked and topic.category == other_category
    response = outsider_client.post(reverse("forums:reply", args=[topic.pk]), {"body": "late"})
    assert response.status_code == 403
    assert "This topic is locked" in response.content.decode()
    assert topic.posts.count() == 1


def test_only_staff_may_moderate(
    user, alice_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    post = topic.posts.get()
    assert (
        alice_client.post(
            reverse("forums:topic_moderate", args=[topic.pk]), {"action": "delete"}
        ).status_code
        == 404
    )
    assert (
        alice_client.post(
            reverse("forums:post_moderate", args=[post.pk]), {"action": "spam"}
        ).status_code
        == 404
    )
    assert alice_client.post(reverse("forums:user_ban", args=["mallory"]), {}).status_code == 404
    assert alice_client.get(reverse("admin:forums_heldpost_changelist")).status_code == 302
    assert Topic.objects.filter(pk=topic.pk, pinned=False).exists()
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED


def test_staff_delete_a_reply_and_a_topic(
    user, outsider, staff_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    reply = reply_to(topic, outsider, capture=django_capture_on_commit_callbacks)
    staff_client.post(reverse("forums:post_moderate", args=[reply.pk]), {"action": "delete"})
    topic.refresh_from_db()
    assert topic.reply_count == 0 and not Post.objects.filter(pk=reply.pk).exists()
    staff_client.post(reverse("forums:topic_moderate", args=[topic.pk]), {"action": "delete"})
    assert not Topic.objects.filter(pk=topic.pk).exists()


def test_a_banned_user_cannot_post_and_is_told_so(
    user,
    outsider,
    outsider_client,
    staff_client,
    category,
    akismet_answers,
    django_capture_on_commit_callbacks,
):
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    staff_client.post(
        reverse("forums:user_ban", args=["mallory"]), {"reason": "spam", "back": "/forums/"}
    )
    assert Ban.objects.filter(user=outsider).exists()
    response = outsider_client.post(reverse("forums:reply", args=[topic.pk]), {"body": "hi"})
    assert response.status_code == 403
    assert "You have been banned from posting in the forums." in response.content.decode()
    response = outsider_client.post(_new_topic_url(category), {"title": "t", "body": "b"})
    assert response.status_code == 403 and Topic.objects.count() == 1
    staff_client.post(reverse("forums:user_ban", args=["mallory"]), {"unban": "1"})
    assert not Ban.objects.filter(user=outsider).exists()


def test_staff_see_held_posts_and_publish_them_from_the_page(
    user,
    staff_client,
    outsider_client,
    category,
    akismet_answers,
    calls,
    django_capture_on_commit_callbacks,
):
    akismet_answers("spam")
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    post = topic.posts.get()
    url = reverse("forums:topic", args=[topic.pk])
    assert "Held for moderation" in staff_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("forums:post_moderate", args=[post.pk]), {"action": "ham"})
    assert outsider_client.get(url).status_code == 200
    assert calls[-1][0] == "submit-ham"


# --- list pages' queries ----------------------------------------------------------------


def _many_topics(category, count, capture):
    authors = [UserFactory(date_joined=timezone.now() - timedelta(days=30)) for _ in range(count)]
    topics = [
        open_topic(author, category, capture=capture, title=f"Topic {n}")
        for n, author in enumerate(authors)
    ]
    for author in authors:
        reply_to(topics[0], author, capture=capture)
    return topics


@pytest.mark.parametrize("count", [1, 6])
def test_list_pages_cost_the_same_queries_for_one_row_or_many(
    count,
    alice_client,
    category,
    other_category,
    akismet_answers,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    topics = _many_topics(category, count, django_capture_on_commit_callbacks)
    # Session, user and the tabs' Education check (3), then the page's own reads.
    with django_assert_num_queries(4):
        assert alice_client.get(reverse("forums:index")).status_code == 200
    with django_assert_num_queries(6):
        assert alice_client.get(reverse("forums:category", args=[category.slug])).status_code == 200
    with django_assert_num_queries(4):
        assert alice_client.get(reverse("forums:search"), {"q": "topic"}).status_code == 200
    with django_assert_num_queries(8):
        assert alice_client.get(reverse("forums:topic", args=[topics[0].pk])).status_code == 200


# --- the admin ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 6])
def test_the_admins_moderation_queue_costs_the_same_queries_for_one_post_or_many(
    count,
    staff_client,
    category,
    akismet_answers,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    akismet_answers("spam")
    for number in range(count):
        author = UserFactory(date_joined=timezone.now() - timedelta(days=30))
        open_topic(author, category, capture=django_capture_on_commit_callbacks, title=f"t{number}")
    with django_assert_num_queries(7):
        page = staff_client.get(reverse("admin:forums_heldpost_changelist"))
    assert page.status_code == 200
    assert page.content.decode().count("Akismet says spam") >= count


@pytest.mark.parametrize("name", ["category", "topic", "post", "heldpost", "ban", "subscription"])
def test_the_admin_lists_every_forums_model(name, staff_client, db):
    url = f"/admin/forums/{name}/"
    response = staff_client.get(url)
    assert response.status_code == (404 if name == "subscription" else 200)


def test_a_reply_lands_on_the_topics_last_page(
    user, veteran, category, settings, akismet_answers, django_capture_on_commit_callbacks
):
    settings.WARREN_FORUMS_PAGE_SIZE = 5
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks)
    for number in range(6):
        reply_to(topic, veteran, capture=django_capture_on_commit_callbacks, body=f"reply {number}")
    client = Client()
    client.force_login(veteran)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("forums:reply", args=[topic.pk]), {"body": "the newest"})
    assert response.url.startswith(f"/forums/t/{topic.pk}/?page=last#post-")
    page = client.get(response.url.split("#")[0]).content.decode()
    assert "the newest" in page and "Page 2 of 2" in page
