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


def test_only_known_languages_are_highlighted_and_only_up_to_the_posts_budget():
    # Some Pygments lexers backtrack for tens of seconds on hostile text: those are shown
    # plain, as is code past the post's budget.
    from forums.markup import HIGHLIGHT_BUDGET_CHARS

    assert '<span class="' not in render("```makefile\nall:\n\techo hi\n```")
    assert '<span class="' not in render("```java\nclass A {}\n```")
    big = "x = 1\n" * (HIGHLIGHT_BUDGET_CHARS // 6 + 1)
    assert '<span class="' not in render(f"```python\n{big}```")
    small = "print(1)\n"
    html = render(f"```python\n{small}```\n\n```python\n{big}```")
    assert html.count('<span class="nb">print</span>') == 1 and "x = 1" in html
