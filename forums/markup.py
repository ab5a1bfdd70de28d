"""Posts' Markdown to safe HTML: python-markdown renders, nh3 (ammonia) keeps only what is
safe, Pygments colours fenced code with CSS classes (forums/static/forums/pygments.css).

Sanitising runs after rendering, on the HTML itself: Markdown passes raw HTML through and
builds links from whatever a user writes, so the renderer's output is never trusted. Only
http, https and mailto URLs survive (no javascript:, no data: images); every link gets
rel="nofollow noopener noreferrer" so spam gains no rank from being posted.
"""

from __future__ import annotations

import markdown
import nh3

EXTENSIONS = ["fenced_code", "codehilite", "tables", "sane_lists"]
EXTENSION_CONFIGS = {"codehilite": {"css_class": "codehilite", "guess_lang": False}}

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    # Pygments' token classes and the code block's wrapper.
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render(text: str) -> str:
    """The post's Markdown as HTML that is safe to put in a page as it is."""
    html = markdown.Markdown(extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS).convert(
        text
    )
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
