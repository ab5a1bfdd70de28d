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
from contextvars import ContextVar

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

# Pygments' lexers are regular expressions, and some backtrack badly on hostile text (make,
# cfengine3, Java: tens of seconds for a 20,000-character block). Only these languages are
# highlighted, and only the first HIGHLIGHT_BUDGET_CHARS of code in a post: on hostile
# 4,000-character blocks the slowest of them took 0.17 s. Anything else is shown plain.
HIGHLIGHTED_LANGUAGES = set(
    "python py python3 pycon pytb bash sh shell console javascript js typescript ts json "
    "yaml yml toml ini cfg html xml css sql postgresql c cpp go rust ruby php diff text "
    "docker dockerfile nginx django jinja lua".split()
)
HIGHLIGHT_BUDGET_CHARS = 4000
_budget: ContextVar[int] = ContextVar("highlight_budget", default=HIGHLIGHT_BUDGET_CHARS)


def _lexer_for(language: str, code: str):
    language = language.lower()
    if language not in HIGHLIGHTED_LANGUAGES or len(code) > _budget.get():
        return None
    _budget.set(_budget.get() - len(code))
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return None


def _highlight(code: str, language: str, attributes: str) -> str:
    lexer = _lexer_for(language, code)
    body = highlight(code, lexer, FORMATTER) if lexer else html.escape(code)
    return f'<pre class="codehilite"><code>{body}</code></pre>'


PARSER = (
    MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    .enable("table")
    .enable("strikethrough")
)


def render(text: str) -> str:
    """The post's Markdown as HTML that is safe to put in a page as it is."""
    token = _budget.set(HIGHLIGHT_BUDGET_CHARS)
    try:
        rendered = PARSER.render(text)
    finally:
        _budget.reset(token)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        filter_style_properties=ALLOWED_STYLES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
