"""Benchmark the forums' Markdown renderer on ordinary and hostile posts.

Run as ``python -m bench.forums_markup``. Warren renders posts with markdown-it-py, then nh3
(``forums.markup.render``); the anchor is python-markdown (with fenced code and Pygments),
the renderer it replaced, measured in the same run on the same texts, then through the same
nh3 call. For each text: the best of a few runs, both figures, and Warren / anchor.

Hostile texts are the ones a spammer or a vandal can post: long runs of "[" and of "[a](",
which make python-markdown's link patterns backtrack; each is measured at two sizes, so the
growth shows (linear doubles, quadratic quadruples); and a code block in a language whose
Pygments lexer backtracks. Ends with one JSON line.
"""

from __future__ import annotations

import json
import time

import markdown
import nh3

from forums import markup

ORDINARY = (
    "I deployed my **Flask** app and get a 502.\n\n"
    "```python\nfrom flask import Flask\napp = Flask(__name__)\n```\n\n"
    "The [docs](https://example.com/docs) say to reload; I did. Any idea?\n\n"
    "- Python 3.11\n- a virtualenv\n\n> error: no module named flask\n"
) * 20
HOSTILE = {"brackets": "[", "open links": "[a]("}
SIZES = (2_000, 4_000)


def anchor(text: str) -> str:
    rendered = markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables"],
        extension_configs={"codehilite": {"css_class": "codehilite", "guess_lang": False}},
    ).convert(text)
    return nh3.clean(rendered, url_schemes=markup.URL_SCHEMES)


def best_of(render, text: str, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        render(text)
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    results = {}
    cases = [
        ("ordinary post", ORDINARY, 20),
        # Java's lexer backtracks on this; Warren shows unlisted languages plain.
        ("java block x4000", "```java\n" + "a\n" * 2000 + "```\n", 3),
    ]
    for name, unit in HOSTILE.items():
        for size in SIZES:
            cases.append((f"{name} x{size}", unit * (size // len(unit)), 3))
    print(f"{'text':<24} {'chars':>6} {'warren ms':>10} {'anchor ms':>10} {'ratio':>8}")
    for name, text, runs in cases:
        warren = best_of(markup.render, text, runs)
        other = best_of(anchor, text, runs)
        results[name] = {"chars": len(text), "warren_s": warren, "anchor_s": other}
        ratio = warren / other
        print(
            f"{name:<24} {len(text):>6} {warren * 1000:>10.2f} {other * 1000:>10.2f} {ratio:>8.3f}"
        )
    print(json.dumps({"bench": "forums_markup", "results": results}))


if __name__ == "__main__":
    main()
