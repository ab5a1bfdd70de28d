"""The forums' reads. Others see published posts only; an author also sees their own
pending and held ones (marked so); staff see everything. Anything a viewer may not see is a
404, the same answer as for something that does not exist."""

from __future__ import annotations

from django.db.models import Count, Max, Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from forums.models import Ban, Category, Post, Status, Subscription, Topic

SEARCH_MAX_RESULTS = 50


def _visible(viewer) -> Q:
    if viewer.is_staff:
        return Q()
    return Q(status=Status.PUBLISHED) | Q(author=viewer)


def categories_with_counts():
    """Every category with its published topics' count and latest activity."""
    published = Q(topics__status=Status.PUBLISHED)
    return Category.objects.annotate(
        topic_count=Count("topics", filter=published),
        last_post_at=Max("topics__last_post_at", filter=published),
    )


def topics_in(*, category: Category, viewer):
    """The topics a viewer sees in a category: pinned first, then the liveliest."""
    return (
        Topic.objects.filter(_visible(viewer), category=category)
        .select_related("author")
        .order_by("-pinned", "-last_post_at", "-pk")
    )


def topic_for(*, viewer, pk: int) -> Topic:
    topic = get_object_or_404(Topic.objects.select_related("category", "author"), pk=pk)
    if topic.status != Status.PUBLISHED and not viewer.is_staff and topic.author_id != viewer.pk:
        raise Http404("No such topic")
    return topic


def posts_of(*, topic: Topic, viewer):
    return (
        Post.objects.filter(_visible(viewer), topic=topic)
        .select_related("author")
        .order_by("created_at", "pk")
    )


def post_of_author(*, author, pk: int) -> Post:
    """A post its author may edit. Only the author: a post speaks in its author's name, so
    this is stricter than accounts.access (a teacher may not edit a student's posts)."""
    post = get_object_or_404(Post.objects.select_related("topic"), pk=pk)
    if post.author_id != author.pk:
        raise Http404("No such post")
    return post


def is_subscribed(*, user, topic: Topic) -> bool:
    return Subscription.objects.filter(user=user, topic=topic).exists()


def is_banned(user) -> bool:
    return Ban.objects.filter(user=user).exists()


def topics_search(*, query: str, viewer):
    """Published topics whose title contains every word of ``query``."""
    words = query.split()[:10]
    if not words:
        return Topic.objects.none()
    condition = Q(status=Status.PUBLISHED)
    for word in words:
        condition &= Q(title__icontains=word)
    return (
        Topic.objects.filter(condition)
        .select_related("category", "author")
        .order_by("-last_post_at")[:SEARCH_MAX_RESULTS]
    )
