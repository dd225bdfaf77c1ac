"""The only Markdown -> HTML path: python-markdown, then the nh3 allow-list.

Protocol bodies and home care come from files a clinic can edit, so the HTML
they produce is untrusted until it has been through ``render_markdown``. The
allow-list keeps document structure (headings, lists, tables, emphasis, code,
quotes, links) and drops everything else: no images (so no remote fetches), no
script, style, iframe or form, no event handlers, no ``style`` or ``class``
attributes, and links only to http, https or mailto. Templates never use
``|safe``; they print the ``Markup`` this returns.
"""

from __future__ import annotations

import threading

import markdown as _markdown
import nh3
from markupsafe import Markup

__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "URL_SCHEMES", "render_markdown"]

ALLOWED_TAGS = frozenset(
    {
        "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr",
        "ul", "ol", "li",
        "table", "thead", "tbody", "tr", "th", "td",
        "em", "strong", "code", "pre", "blockquote", "a",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

# Tables emit ``align`` rather than inline ``style`` (the CSP refuses inline styles).
_EXTENSIONS = ["tables", "fenced_code", "sane_lists"]
_EXTENSION_CONFIGS = {"tables": {"use_align_attribute": True}}

_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style", "iframe", "object", "embed", "template", "noscript"},
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",
    link_rel=LINK_REL,
    strip_comments=True,
)
# A Markdown instance is reusable (reset between documents) but not thread-safe.
_local = threading.local()


def _converter() -> _markdown.Markdown:
    converter = getattr(_local, "converter", None)
    if converter is None:
        converter = _markdown.Markdown(
            extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS, output_format="html"
        )
        _local.converter = converter
    return converter


def render_markdown(text: str | None) -> Markup:
    """Render Markdown ``text`` to sanitised HTML that templates may print as is."""
    if not text:
        return Markup("")
    converter = _converter()
    try:
        html = converter.convert(text)
    except BaseException:
        # A failed conversion (e.g. RecursionError on absurd nesting) can leave the
        # parser's state behind; never reuse that instance for the next document.
        _local.converter = None
        raise
    converter.reset()
    return Markup(_cleaner.clean(html))  # noqa: S704 - sanitised by the allow-list above
