"""The forums' writes: posting, editing, the spam check's outcome, moderation, subscriptions.

Every new post and every edit starts PENDING (seen by its author only) and is checked by
Akismet in ``forums.tasks.post_check``, queued on commit: posting never waits for Akismet.
Nothing reaches other people without a verdict: ham publishes; spam, a missing key or a
refused key hold the post for staff; Akismet unreachable leaves it pending and the check is
retried (with backoff, and again by beat's sweep) until Akismet answers.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import User
from config.errors import AppError
from forums import markup, spam
from forums.models import Ban, Category, Post, Status, Subscription, Topic

logger = logging.getLogger(__name__)

TITLE_MAX_CHARS = 200


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise AppError("A topic needs a title.", field="title")
    if len(title) > TITLE_MAX_CHARS:
        raise AppError(f"Titles are at most {TITLE_MAX_CHARS} characters.", field="title")
    return title


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise AppError("Write something first.", field="body")
    limit = settings.WARREN_FORUMS_POST_MAX_CHARS
    if len(body) > limit:
        raise AppError(
            f"Posts are at most {limit:,} characters; this one has {len(body):,}.", field="body"
        )
    return body


def _check_may_post(author: User, *, now) -> None:
    """Refuse banned authors and new accounts over their hourly allowance.

    Called inside the posting transaction with the author's row locked, so two posts sent at
    once cannot both squeeze under the limit.
    """
    if Ban.objects.filter(user=author).exists():
        raise AppError("You have been banned from posting in the forums.", status=403)
    if author.is_staff:
        return
    new_until = author.date_joined + timedelta(days=settings.WARREN_FORUMS_NEW_ACCOUNT_DAYS)
    if now >= new_until:
        return
    allowance = settings.WARREN_FORUMS_NEW_ACCOUNT_POSTS_PER_HOUR
    recent = Post.objects.filter(author=author, created_at__gte=now - timedelta(hours=1)).count()
    if recent >= allowance:
        raise AppError(
            f"New accounts may post {allowance} times an hour; please wait a while before "
            "posting again.",
            status=429,
        )


def _lock_author(author: User) -> None:
    User.objects.select_for_update().filter(pk=author.pk).first()


def _check_enqueue(post: Post) -> None:
    from forums.tasks import post_check

    post_id, revision = post.pk, post.revision
    transaction.on_commit(lambda: post_check.delay(post_id, revision))


def _new_post(*, topic, author, body, ip, user_agent, is_opening) -> Post:
    post = Post.objects.create(
        topic=topic,
        author=author,
        is_opening=is_opening,
        body=body,
        body_html=markup.render(body),
        author_ip=ip or None,
        user_agent=(user_agent or "")[:500],
    )
    _check_enqueue(post)
    return post


def topic_create(
    *, author: User, category: Category, title: str, body: str, ip: str, user_agent: str
) -> Topic:
    """Open a topic (pending until its first post is checked); the author is subscribed."""
    title, body = _clean_title(title), _clean_body(body)
    now = timezone.now()
    with transaction.atomic():
        _lock_author(author)
        _check_may_post(author, now=now)
        topic = Topic.objects.create(
            category=category, author=author, title=title, last_post_at=now
        )
        _new_post(
            topic=topic, author=author, body=body, ip=ip, user_agent=user_agent, is_opening=True
        )
        Subscription.objects.create(user=author, topic=topic)
    return topic


def reply_create(*, author: User, topic: Topic, body: str, ip: str, user_agent: str) -> Post:
    """Reply to a topic (pending until checked)."""
    body = _clean_body(body)
    now = timezone.now()
    with transaction.atomic():
        _lock_author(author)
        topic = Topic.objects.select_for_update().get(pk=topic.pk)
        if topic.locked:
            raise AppError("This topic is locked: no new replies.", status=403)
        if topic.status != Status.PUBLISHED:
            raise AppError("This topic is not open for replies yet.", status=403)
        _check_may_post(author, now=now)
        return _new_post(
            topic=topic, author=author, body=body, ip=ip, user_agent=user_agent, is_opening=False
        )


def edit_window_open(post: Post, *, now=None) -> bool:
    window = timedelta(minutes=settings.WARREN_FORUMS_EDIT_WINDOW_MINUTES)
    return (now or timezone.now()) < post.created_at + window


def post_edit(*, author: User, post: Post, body: str, title: str | None = None) -> Post:
    """Change a post's text (and its topic's title, for an opening post); checked again."""
    body = _clean_body(body)
    if title is not None and post.is_opening:
        title = _clean_title(title)
    now = timezone.now()
    with transaction.atomic():
        post = Post.objects.select_for_update().select_related("topic").get(pk=post.pk)
        if post.author_id != author.pk:
            raise AppError("Only the author may edit a post.", status=404)
        if not edit_window_open(post, now=now):
            minutes = settings.WARREN_FORUMS_EDIT_WINDOW_MINUTES
            raise AppError(f"Posts can be edited for {minutes} minutes after posting.")
        if Ban.objects.filter(user=author).exists():
            raise AppError("You have been banned from posting in the forums.", status=403)
        if title is not None and post.is_opening and title != post.topic.title:
            post.topic.title = title
            post.topic.save(update_fields=["title"])
        post.body = body
        post.body_html = markup.render(body)
        post.status = Status.PENDING
        post.held_reason = ""
        post.revision += 1
        post.check_attempts = 0
        post.last_check_error = ""
        post.edited_at = now
        post.save()
        _topic_refresh(post.topic_id)
        _check_enqueue(post)
    return post


# --- the spam check's outcome ---------------------------------------------------------------


def _topic_refresh(topic_id: int) -> None:
    """Recompute a topic's status, reply count and last post time from its posts."""
    topic = Topic.objects.select_for_update().filter(pk=topic_id).first()
    if topic is None:
        return
    opening = topic.posts.filter(is_opening=True).values_list("status", flat=True).first()
    published = topic.posts.filter(status=Status.PUBLISHED)
    topic.status = opening or Status.HELD
    topic.reply_count = published.filter(is_opening=False).count()
    topic.last_post_at = published.aggregate(last=Max("created_at"))["last"] or topic.created_at
    topic.save(update_fields=["status", "reply_count", "last_post_at"])


def _set_status(post: Post, *, status: str, held_reason: str = "", checked: bool) -> bool:
    """Move ``post`` (at its current revision) to ``status``; False if it changed meanwhile."""
    fields = {"status": status, "held_reason": held_reason, "last_check_error": ""}
    if checked:
        fields["checked_at"] = timezone.now()
    changed = Post.objects.filter(pk=post.pk, revision=post.revision).update(**fields)
    if changed:
        _topic_refresh(post.topic_id)
        if status == Status.PUBLISHED and not post.is_opening and post.notified_at is None:
            from forums.tasks import reply_notify

            transaction.on_commit(lambda: reply_notify.delay(post.pk))
    return bool(changed)


def post_check(*, post_id: int, revision: int) -> str:
    """Ask Akismet about a pending post and act on the answer; returns what happened.

    Raises ``spam.Unreachable`` (after recording the attempt) for the task to retry.
    """
    post = Post.objects.select_related("author").filter(pk=post_id).first()
    if post is None or post.revision != revision or post.status != Status.PENDING:
        return "stale"
    if not spam.configured():
        with transaction.atomic():
            _set_status(post, status=Status.HELD, held_reason=Post.HeldReason.NO_KEY, checked=False)
        return "held: no key"
    try:
        verdict = spam.verdict_of(post)
    except spam.Refused:
        with transaction.atomic():
            _set_status(
                post, status=Status.HELD, held_reason=Post.HeldReason.REFUSED, checked=False
            )
        return "held: key refused"
    except spam.Unreachable as error:
        Post.objects.filter(pk=post.pk, revision=revision, status=Status.PENDING).update(
            check_attempts=post.check_attempts + 1, last_check_error=str(error)[:300]
        )
        raise
    with transaction.atomic():
        return _apply_verdict(post, verdict)


def _apply_verdict(post: Post, verdict: spam.Verdict) -> str:
    if verdict is spam.Verdict.HAM:
        _set_status(post, status=Status.PUBLISHED, checked=True)
        return "published"
    if verdict is spam.Verdict.DISCARD and post.revision == 1:
        # Blatant spam is dropped unseen, as Akismet advises; the log keeps a trace.
        logger.warning(
            "forums: dropped blatant spam by %s from %s in topic %s: %.200r",
            post.author.username,
            post.author_ip,
            post.topic_id,
            post.body,
        )
        if post.is_opening:
            Topic.objects.filter(pk=post.topic_id).delete()
        else:
            Post.objects.filter(pk=post.pk, revision=post.revision).delete()
            _topic_refresh(post.topic_id)
        return "discarded"
    # Spam, or an edit Akismet calls blatant: the post had been published and others may
    # have replied to it, so it is held for staff rather than dropped.
    _set_status(post, status=Status.HELD, held_reason=Post.HeldReason.SPAM, checked=True)
    return "held: spam"


def posts_recheck_stale(*, now) -> list[int]:
    """Queue the check again for posts left pending (Akismet down, a lost message)."""
    from forums.tasks import post_check

    cutoff = now - timedelta(seconds=settings.WARREN_FORUMS_RECHECK_AFTER_SECONDS)
    stale = list(
        Post.objects.filter(status=Status.PENDING, updated_at__lt=cutoff).values_list(
            "pk", "revision"
        )[:500]
    )
    for post_id, revision in stale:
        post_check.delay(post_id, revision)
    return [post_id for post_id, _ in stale]


# --- moderation (staff) ---------------------------------------------------------------------


def _staff_only(actor: User) -> None:
    if not actor.is_staff:
        raise AppError("Only staff may moderate.", status=404)


def post_mark(*, staff: User, post: Post, spam_: bool) -> None:
    """Staff's verdict on a post: spam holds it, ham publishes it; Akismet is told when it
    had judged the post (submit-spam/submit-ham), so it learns from our corrections."""
    _staff_only(staff)
    from forums.tasks import post_report

    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        akismet_judged = post.checked_at is not None
        if spam_:
            was_published = post.status == Status.PUBLISHED
            _set_status(post, status=Status.HELD, held_reason=Post.HeldReason.STAFF, checked=False)
            tell = akismet_judged and was_published
        else:
            was_spam = post.held_reason in (Post.HeldReason.SPAM, Post.HeldReason.STAFF)
            _set_status(post, status=Status.PUBLISHED, checked=False)
            tell = akismet_judged and was_spam
        if tell and spam.configured():
            post_id = post.pk
            transaction.on_commit(lambda: post_report.delay(post_id, spam_))


def post_delete(*, staff: User, post: Post) -> None:
    """Delete a post; an opening post takes its topic with it."""
    _staff_only(staff)
    with transaction.atomic():
        if post.is_opening:
            Topic.objects.filter(pk=post.topic_id).delete()
        else:
            Post.objects.filter(pk=post.pk).delete()
            _topic_refresh(post.topic_id)


def topic_moderate(
    *,
    staff: User,
    topic: Topic,
    pinned: bool | None = None,
    locked: bool | None = None,
    category: Category | None = None,
) -> Topic:
    """Pin, lock or move a topic."""
    _staff_only(staff)
    fields = []
    if pinned is not None:
        topic.pinned = pinned
        fields.append("pinned")
    if locked is not None:
        topic.locked = locked
        fields.append("locked")
    if category is not None:
        topic.category = category
        fields.append("category")
    if fields:
        topic.save(update_fields=fields)
    return topic


def topic_delete(*, staff: User, topic: Topic) -> None:
    """Delete a topic and every post in it."""
    _staff_only(staff)
    topic.delete()


def user_ban(*, staff: User, user: User, reason: str = "") -> Ban:
    """Stop ``user`` posting; their pending posts are held for staff to look at."""
    _staff_only(staff)
    if user.is_staff:
        raise AppError("Staff cannot be banned here; take away their staff flag first.")
    with transaction.atomic():
        ban, _ = Ban.objects.get_or_create(
            user=user, defaults={"reason": reason[:300], "banned_by": staff}
        )
        pending = Post.objects.filter(author=user, status=Status.PENDING)
        topic_ids = set(pending.values_list("topic_id", flat=True))
        pending.update(status=Status.HELD, held_reason=Post.HeldReason.STAFF)
        for topic_id in topic_ids:
            _topic_refresh(topic_id)
    return ban


def user_unban(*, staff: User, user: User) -> None:
    """Let ``user`` post again."""
    _staff_only(staff)
    Ban.objects.filter(user=user).delete()


# --- subscriptions --------------------------------------------------------------------------


def subscription_set(*, user: User, topic: Topic, subscribed: bool) -> None:
    """Follow a topic by email, or stop."""
    if subscribed:
        Subscription.objects.get_or_create(user=user, topic=topic)
    else:
        Subscription.objects.filter(user=user, topic=topic).delete()


def reply_notify(*, post_id: int) -> int:
    """Mail each subscriber of the reply's topic (not its author) once; returns how many."""
    from django.core.mail import EmailMessage, get_connection
    from django.urls import reverse

    claimed = Post.objects.filter(pk=post_id, status=Status.PUBLISHED, notified_at=None).update(
        notified_at=timezone.now()
    )
    if not claimed:
        return 0
    post = Post.objects.select_related("author", "topic").get(pk=post_id)
    recipients = list(
        User.objects.filter(Q(forum_subscriptions__topic_id=post.topic_id), is_active=True)
        .exclude(pk=post.author_id)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    link = reverse("forums:topic", args=[post.topic_id]) + f"#post-{post.pk}"
    subject = f"[{settings.WARREN_SITE_NAME} forums] {post.topic.title}"
    text = (
        f"{post.author.username} replied to “{post.topic.title}”:\n\n{post.body}\n\n"
        f"Read it at {settings.WARREN_SITE_URL.rstrip('/')}{link}\n"
        "You receive this because you follow this topic; unfollow it on the topic's page.\n"
    )
    messages = [EmailMessage(subject, text, to=[email]) for email in recipients]
    if messages:
        get_connection().send_messages(messages)
    return len(messages)
