"""Markdown to HTML: code highlighted with classes, links marked nofollow, code kept as text.
(Script in posts, the attack, is tests/security/test_forum_attacks.py.)"""

from forums.markup import render


def test_code_blocks_are_highlighted_with_classes_and_links_get_nofollow():
    html = render("```python\nprint('hi')\n```\n\n[docs](https://example.com/)")
    assert '<pre class="codehilite"><code>' in html
    assert '<span class="nb">print</span>' in html
    assert 'href="https://example.com/"' in html and 'rel="nofollow noopener noreferrer"' in html


def test_markdown_in_code_stays_text():
    html = render("`<script>alert(1)</script>`")
    assert "&lt;script&gt;" in html and "<script" not in html
