"""Attacks on the forums: script in a post (XSS through Markdown, raw HTML, links and
images), reading others' pending posts, editing others' posts. Each would let one user act
in another's session or speak in another's name."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from forums.markup import render
from forums.models import Status
from tests.forums.helpers import open_topic

pytestmark = pytest.mark.django_db

PAYLOADS = {
    "script tag": "<script>alert('x')</script>",
    "javascript link": "[click](javascript:alert('x'))",
    "javascript link, mixed case and entities": "<a href='&#106;aVaScRiPt:alert(1)'>c</a>",
    "onerror attribute": "<img src=x onerror=alert('x')>",
    "data uri image": "![i](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "svg onload": "<svg onload=alert('x')></svg>",
    "raw html block": "\n\n<div onclick='x'><img src=x onerror=alert(1)></div>\n\n",
    "iframe": "<iframe src='https://evil.example/'></iframe>",
    "style attribute": "<p style='background:url(javascript:alert(1))'>x</p>",
}


class Elements(HTMLParser):
    """The tags and attributes a browser would build from the HTML (text is just text)."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def dangers(html: str) -> list:
    found = []
    for tag, attrs in Elements(html).found:
        if tag in ("script", "iframe", "svg", "object", "embed", "style"):
            found.append(tag)
        for name, value in attrs.items():
            url = "".join(value.split()).lower()
            if name.startswith("on") or name == "style":
                found.append(f"{tag}[{name}]")
            if name in ("href", "src") and url.startswith(("javascript:", "data:", "vbscript:")):
                found.append(f"{tag}[{name}={value}]")
    return found


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_script_in_a_post_is_rendered_inert_in_the_topic_page(
    payload, user, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    topic = open_topic(
        user, category, capture=django_capture_on_commit_callbacks, body=f"before {payload} after"
    )
    page = outsider_client.get(reverse("forums:topic", args=[topic.pk])).content.decode()
    body = page.split('class="post-body">', 1)[1].split("<footer>", 1)[0]
    assert "before" in body and "after" in body
    assert dangers(body) == [], body
    assert dangers(render(payload)) == []


def test_the_danger_finder_finds_dangers():
    # The check above must be able to fail: on raw, unsanitised payloads it does.
    for payload in ("<script>x</script>", "<img src=x onerror=y>", "<a href='javascript:x'>a</a>"):
        assert dangers(payload), payload


def test_reading_someone_elses_pending_post_by_its_topic_url(
    user, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    """Spam or a half-written post someone else has not been cleared to show: a 404."""
    akismet_answers("unreachable")
    topic = open_topic(user, category, capture=django_capture_on_commit_callbacks, body="secret")
    assert topic.status == Status.PENDING
    response = outsider_client.get(reverse("forums:topic", args=[topic.pk]))
    assert response.status_code == 404 and b"secret" not in response.content
    search = outsider_client.get(reverse("forums:search"), {"q": "How"})
    assert b"How do I X?" not in search.content


def test_editing_someone_elses_post_by_its_id(
    user, outsider_client, category, akismet_answers, django_capture_on_commit_callbacks
):
    """Putting words in another's mouth: a 404, and the post unchanged."""
    post = open_topic(user, category, capture=django_capture_on_commit_callbacks).posts.get()
    url = reverse("forums:post_edit", args=[post.pk])
    assert outsider_client.post(url, {"title": "x", "body": "I sell pills"}).status_code == 404
    post.refresh_from_db()
    assert post.body == "Hello there" and post.revision == 1
