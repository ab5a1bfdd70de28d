"""Forums: categories hold topics, topics hold posts (the first is the opening post).

A post is seen by others only once Akismet (or a member of staff) has passed it: ``status``
starts PENDING, becomes PUBLISHED or HELD. A topic mirrors its opening post's status in its
own ``status`` so lists filter on one column instead of joining to the first post.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    PENDING = "pending", "pending (being checked)"
    PUBLISHED = "published", "published"
    HELD = "held", "held for moderation"


class Topic(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="topics")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_topics"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    pinned = models.BooleanField(default=False)
    locked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the last published post went up: the lists' order.
    last_post_at = models.DateTimeField(db_index=True)
    reply_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-pinned", "-last_post_at"]
        indexes = [models.Index(fields=["category", "status", "-pinned", "-last_post_at"])]

    def __str__(self) -> str:
        return self.title


class Post(models.Model):
    class HeldReason(models.TextChoices):
        NONE = "", "—"
        SPAM = "spam", "Akismet says spam"
        NO_KEY = "no_key", "no Akismet key: waits for staff"
        REFUSED = "refused", "Akismet refused our key"
        STAFF = "staff", "marked spam by staff"

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_posts"
    )
    is_opening = models.BooleanField(default=False)
    body = models.TextField()
    body_html = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    held_reason = models.CharField(max_length=10, choices=HeldReason.choices, blank=True)
    # Bumped by every edit: a check of an older text must not decide about the new one.
    revision = models.PositiveIntegerField(default=1)
    check_attempts = models.PositiveIntegerField(default=0)
    last_check_error = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # What Akismet is told about the poster (it wants the IP and user agent of the request).
    author_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Subscribers are mailed once per reply, the first time it is published.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["topic", "status", "created_at"]),
            models.Index(fields=["author", "created_at"]),
            models.Index(fields=["status", "updated_at"]),
        ]

    def __str__(self) -> str:
        return f"post {self.pk} by {self.author_id} in topic {self.topic_id}"


class HeldPost(Post):
    """The admin's moderation queue: the same rows, listed apart (held ones first)."""

    class Meta:
        proxy = True
        verbose_name = "held post (moderation queue)"
        verbose_name_plural = "held posts (moderation queue)"


class Subscription(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_subscriptions"
    )
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "topic"], name="forums_one_subscription")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.topic_id}"


class Ban(models.Model):
    """A user who may no longer post (reading stays open)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_ban"
    )
    reason = models.CharField(max_length=300, blank=True)
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ban of {self.user_id}"
