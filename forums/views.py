"""The Forums pages: views parse, call one service, render. What a viewer may see is the
selectors' (404 otherwise); staff's controls answer 404 to everyone else."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from config.errors import AppError, error_response
from forums import selectors, services
from forums.forms import BanForm, EditForm, MoveForm, ReplyForm, TopicForm
from forums.models import Category, Post, Status


def _staff_or_404(request) -> None:
    if not request.user.is_staff:
        raise Http404("No such page")


def _origin(request) -> dict:
    """What Akismet is told about the request a post came in."""
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.headers.get("User-Agent", ""),
    }


@require_GET
def index(request):
    context = {"categories": selectors.categories_with_counts(), "query": ""}
    return render(request, "forums/index.html", context)


@require_GET
def search(request):
    query = request.GET.get("q", "")[:200]
    topics = selectors.topics_search(query=query, viewer=request.user)
    return render(request, "forums/search.html", {"query": query, "topics": topics})


@require_GET
def category(request, slug: str):
    category = get_object_or_404(Category, slug=slug)
    topics = selectors.topics_in(category=category, viewer=request.user)
    page = Paginator(topics, settings.WARREN_FORUMS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "forums/category.html", {"category": category, "page": page})


@require_http_methods(["GET", "POST"])
def topic_new(request, slug: str):
    category = get_object_or_404(Category, slug=slug)
    form = TopicForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            topic = services.topic_create(
                author=request.user,
                category=category,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                **_origin(request),
            )
        except AppError as error:
            form.add_error(error.field, error)
            status = error.status
        else:
            messages.success(request, "Posted. It shows as pending until our spam check is done.")
            return redirect("forums:topic", topic.pk)
    if form.is_bound and status == 200:
        status = 400
    context = {"category": category, "form": form}
    return render(request, "forums/topic_new.html", context, status=status)


def _topic_page(request, topic, reply_form: ReplyForm, status: int = 200):
    posts = selectors.posts_of(topic=topic, viewer=request.user)
    paginator = Paginator(posts, settings.WARREN_FORUMS_PAGE_SIZE)
    number = request.GET.get("page")
    # "last": where a new reply is, wherever the count has got to meanwhile.
    page = paginator.get_page(paginator.num_pages if number == "last" else number)
    for post in page:
        post.editable = post.author_id == request.user.pk and services.edit_window_open(post)
    context = {
        "topic": topic,
        "page": page,
        "reply_form": reply_form,
        "subscribed": selectors.is_subscribed(user=request.user, topic=topic),
        "banned": selectors.is_banned(request.user),
        "published": Status.PUBLISHED,
    }
    if request.user.is_staff:
        context["move_form"] = MoveForm(initial={"category": topic.category_id})
    return render(request, "forums/topic.html", context, status=status)


@require_GET
def topic(request, pk: int):
    topic = selectors.topic_for(viewer=request.user, pk=pk)
    return _topic_page(request, topic, ReplyForm())


@require_POST
def reply(request, pk: int):
    topic = selectors.topic_for(viewer=request.user, pk=pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            post = services.reply_create(
                author=request.user, topic=topic, body=form.cleaned_data["body"], **_origin(request)
            )
        except AppError as error:
            form.add_error(error.field, error)
            return _topic_page(request, topic, form, status=error.status)
        messages.success(request, "Replied. It shows as pending until our spam check is done.")
        return redirect(reverse("forums:topic", args=[topic.pk]) + f"?page=last#post-{post.pk}")
    return _topic_page(request, topic, form, status=400)


@require_http_methods(["GET", "POST"])
def post_edit(request, pk: int):
    post = selectors.post_of_author(author=request.user, pk=pk)
    initial = {"title": post.topic.title, "body": post.body}
    form = EditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.post_edit(
                author=request.user,
                post=post,
                body=form.cleaned_data["body"],
                title=form.cleaned_data["title"] if post.is_opening else None,
            )
        except AppError as error:
            form.add_error(error.field, error)
            status = error.status
        else:
            messages.success(request, "Saved. It shows as pending until our spam check is done.")
            return redirect(reverse("forums:topic", args=[post.topic_id]) + f"#post-{post.pk}")
    if form.is_bound and status == 200:
        status = 400
    context = {"post": post, "form": form, "window_open": services.edit_window_open(post)}
    return render(request, "forums/post_edit.html", context, status=status)


@require_POST
def subscribe(request, pk: int):
    topic = selectors.topic_for(viewer=request.user, pk=pk)
    subscribed = request.POST.get("subscribed") == "1"
    services.subscription_set(user=request.user, topic=topic, subscribed=subscribed)
    messages.success(
        request,
        "You will get an email for each reply." if subscribed else "You no longer follow it.",
    )
    return redirect("forums:topic", topic.pk)


# --- staff ----------------------------------------------------------------------------------


@require_POST
def topic_moderate(request, pk: int):
    _staff_or_404(request)
    topic = selectors.topic_for(viewer=request.user, pk=pk)
    action = request.POST.get("action", "")
    if action == "delete":
        category_slug = topic.category.slug
        services.topic_delete(staff=request.user, topic=topic)
        messages.success(request, "Topic deleted.")
        return redirect("forums:category", category_slug)
    changes = {
        "pin": {"pinned": True},
        "unpin": {"pinned": False},
        "lock": {"locked": True},
        "unlock": {"locked": False},
    }.get(action)
    if action == "move":
        form = MoveForm(request.POST)
        if not form.is_valid():
            return error_response(request, AppError("Choose a category."), "forums:topic", pk)
        changes = {"category": form.cleaned_data["category"]}
    if changes is None:
        return error_response(request, AppError("Unknown action."), "forums:topic", pk)
    services.topic_moderate(staff=request.user, topic=topic, **changes)
    messages.success(request, "Topic updated.")
    return redirect("forums:topic", topic.pk)


@require_POST
def post_moderate(request, pk: int):
    _staff_or_404(request)
    post = get_object_or_404(Post.objects.select_related("topic"), pk=pk)
    action = request.POST.get("action", "")
    if action == "delete":
        services.post_delete(staff=request.user, post=post)
        messages.success(request, "Post deleted.")
        if post.is_opening:
            return redirect("forums:category", post.topic.category.slug)
        return redirect("forums:topic", post.topic_id)
    if action not in ("spam", "ham"):
        return error_response(request, AppError("Unknown action."), "forums:topic", post.topic_id)
    services.post_mark(staff=request.user, post=post, spam_=action == "spam")
    messages.success(request, "Marked as spam: held." if action == "spam" else "Published.")
    return redirect("forums:topic", post.topic_id)


@require_POST
def user_ban(request, username: str):
    _staff_or_404(request)
    user = get_object_or_404(User, username=username)
    form = BanForm(request.POST)
    back = request.POST.get("back") or reverse("forums:index")
    if not back.startswith("/forums/"):
        back = reverse("forums:index")
    try:
        if request.POST.get("unban") == "1":
            services.user_unban(staff=request.user, user=user)
            messages.success(request, f"{username} may post again.")
        else:
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            services.user_ban(staff=request.user, user=user, reason=reason)
            messages.success(request, f"{username} is banned from posting.")
    except AppError as error:
        return error_response(request, error, back)
    return redirect(back)
