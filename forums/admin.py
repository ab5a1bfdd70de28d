"""The forums in the admin: categories, topics, posts, bans, and the moderation queue (held
and pending posts) with staff's verdicts, which go through the same services as the pages
(Akismet is told of a correction)."""

from django.contrib import admin, messages

from forums import services
from forums.models import Ban, Category, HeldPost, Post, Status, Topic


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "author", "status", "pinned", "locked", "last_post_at"]
    list_filter = ["status", "pinned", "locked", "category"]
    search_fields = ["title", "author__username"]
    list_select_related = ["category", "author"]
    raw_id_fields = ["author"]
    readonly_fields = ["status", "reply_count", "last_post_at", "created_at"]
    actions = ["pin", "unpin", "lock", "unlock"]

    def _moderate(self, request, queryset, **changes):
        for topic in queryset:
            services.topic_moderate(staff=request.user, topic=topic, **changes)

    @admin.action(description="Pin")
    def pin(self, request, queryset):
        self._moderate(request, queryset, pinned=True)

    @admin.action(description="Unpin")
    def unpin(self, request, queryset):
        self._moderate(request, queryset, pinned=False)

    @admin.action(description="Lock")
    def lock(self, request, queryset):
        self._moderate(request, queryset, locked=True)

    @admin.action(description="Unlock")
    def unlock(self, request, queryset):
        self._moderate(request, queryset, locked=False)


class PostAdminBase(admin.ModelAdmin):
    list_display = ["id", "topic", "author", "status", "held_reason", "created_at", "excerpt"]
    list_filter = ["status", "held_reason"]
    search_fields = ["body", "author__username", "topic__title"]
    list_select_related = ["topic", "author"]
    raw_id_fields = ["author", "topic"]
    # Staff judge posts here, they do not rewrite them: the text, its HTML and its place stay
    # as the author posted them (an edit here would skip the sanitiser and the spam check).
    readonly_fields = [
        "topic", "author", "is_opening", "body",
        "status", "held_reason", "revision", "check_attempts", "last_check_error",
        "checked_at", "author_ip", "user_agent", "created_at", "edited_at", "notified_at",
        "body_html",
    ]  # fmt: skip
    actions = ["mark_ham", "mark_spam", "ban_authors"]

    @admin.display(description="text")
    def excerpt(self, post):
        return post.body[:80]

    def has_add_permission(self, request):
        return False  # posts come from the forums' pages, checked like any other

    @admin.action(description="Not spam: publish (and tell Akismet)")
    def mark_ham(self, request, queryset):
        for post in queryset:
            services.post_mark(staff=request.user, post=post, spam_=False)
        messages.success(request, f"Published {len(queryset)} post(s).")

    @admin.action(description="Spam: hold (and tell Akismet)")
    def mark_spam(self, request, queryset):
        for post in queryset:
            services.post_mark(staff=request.user, post=post, spam_=True)
        messages.success(request, f"Held {len(queryset)} post(s) as spam.")

    @admin.action(description="Ban the authors from posting")
    def ban_authors(self, request, queryset):
        for author in {post.author for post in queryset if not post.author.is_staff}:
            services.user_ban(staff=request.user, user=author, reason="from the moderation queue")
        messages.success(request, "Banned.")

    def delete_queryset(self, request, queryset):
        for post in queryset:
            services.post_delete(staff=request.user, post=post)

    def delete_model(self, request, obj):
        services.post_delete(staff=request.user, post=obj)


@admin.register(Post)
class PostAdmin(PostAdminBase):
    pass


@admin.register(HeldPost)
class HeldPostAdmin(PostAdminBase):
    """Posts nobody else sees yet: held (spam, no key) and still pending (Akismet down)."""

    list_display = [*PostAdminBase.list_display, "check_attempts", "last_check_error"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(status=Status.PUBLISHED)


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    list_display = ["user", "reason", "banned_by", "created_at"]
    search_fields = ["user__username"]
    list_select_related = ["user", "banned_by"]
    raw_id_fields = ["user", "banned_by"]
