"""Posts' Markdown to safe HTML: markdown-it-py renders (CommonMark, tables, strikethrough),
Pygments colours fenced code with CSS classes (forums/static/forums/pygments.css), nh3
(ammonia) keeps only what is safe.

markdown-it-py, not python-markdown: python-markdown took 83 s on a post of 20,000 "["
(its link patterns backtrack), a denial of service in one post; markdown-it-py's parser
is linear on the same inputs (bench/forums_markup.py). Raw HTML in a post is shown as text,
never passed through, and the HTML is sanitised anyway: only http, https and mailto URLs
survive (no javascript:, no data: images), and every link gets rel="nofollow noopener
noreferrer" so spam gains no rank from being posted.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    # Pygments' token classes and the code block's class.
    "span": {"class"},
    "pre": {"class"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
}
# Table cells' alignment is the only style markdown-it writes; nothing else gets through.
ALLOWED_STYLES = {"text-align"}
URL_SCHEMES = {"http", "https", "mailto"}
FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, language: str, attributes: str) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, FORMATTER) if lexer else html.escape(code)
    return f'<pre class="codehilite"><code>{body}</code></pre>'


PARSER = (
    MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    .enable("table")
    .enable("strikethrough")
)


def render(text: str) -> str:
    """The post's Markdown as HTML that is safe to put in a page as it is."""
    return nh3.clean(
        PARSER.render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        filter_style_properties=ALLOWED_STYLES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
