"""PDF documents: the ONLY way into WeasyPrint.

``render_pdf(template, **ctx)`` renders a Jinja template from ``templates/pdf/``
with the shared print stylesheet and returns PDF/A-3b bytes. Resources are
fetched by ``StaticOnlyFetcher``: files under the app's static folder and
``data:`` URLs, nothing else — a note containing ``<img src="file:///etc/passwd">``
or an attachment link pulls nothing in.

WeasyPrint is imported on first use (the import alone takes ~0.6 s) and once per
process; the parsed stylesheet and its FontConfiguration are kept per thread and
reused for every render. Python's cyclic garbage collector is paused while a
document is rendered (``collector_paused``), and a few mends to WeasyPrint and its
dependencies save CPU on every render: tinyhtml5's regex cache is given the keys it
looks up (``_RegexCache``); each PDF stream is compressed once (``compress_streams``)
instead of twice at zlib's slowest level; a PNG that a PDF can hold as it is goes in
without being decoded and encoded again (``png_idat``); and a document that cannot have
footnotes or notes gets a user-agent stylesheet without their five pseudo-elements
(``_without_note_pseudo_elements``). Measurements: docs/performance.md, "Treatment
summary PDF".
"""

from __future__ import annotations

import gc
import mimetypes
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from flask import Response, current_app, render_template

STYLESHEET = "pdf/print.css"
PDF_VARIANT = "pdf/a-3b"

_local = threading.local()


class PdfResourceRefused(ValueError):
    """A document asked for a resource outside the app's own static files."""


@dataclass(frozen=True)
class PdfAttachment:
    """A file embedded in the PDF (e.g. the machine-readable JSON of a receipt)."""

    name: str
    data: bytes
    description: str = ""
    created: datetime | None = None


@cache
def _weasyprint() -> ModuleType:
    import weasyprint  # slow: imported once per process, on first use

    _mend_tinyhtml5()
    _mend_png_images()
    return weasyprint


class _RegexCache(dict[tuple[Any, bool], re.Pattern[str]]):
    """The regexes of tinyhtml5's ``chars_until()``, built on first use under the right key.

    tinyhtml5 2.1 stores each regex under ``(regex, opposite)`` (a chained assignment
    rebinds ``characters`` first) but looks it up under ``(characters, opposite)``: every
    call missed and rebuilt its pattern: ~40 % of a treatment summary's HTML parse. A lookup
    that finds nothing here builds the same pattern as tinyhtml5 would, so its code never
    reaches the broken line.
    """

    def __missing__(self, key: tuple[Any, bool]) -> re.Pattern[str]:
        characters, opposite = key
        regex = "".join([f"\\x{ord(character):02x}" for character in characters])
        if not opposite:
            regex = f"^{regex}"
        pattern = self[key] = re.compile(f"[{regex}]+")
        return pattern


def _mend_tinyhtml5() -> None:
    from tinyhtml5 import inputstream

    if type(getattr(inputstream, "characters_until_regex", None)) is dict:
        inputstream.characters_until_regex = _RegexCache()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_idat(data: bytes, mode: str) -> bytes | None:
    """The compressed image data of a PNG that a PDF can carry as it is, else ``None``.

    A PDF image with ``/FlateDecode`` and a PNG predictor (what WeasyPrint writes) holds
    exactly the concatenated IDAT chunks of an 8-bit, non-interlaced greyscale or RGB PNG
    without transparency. ``mode`` is Pillow's for the image and must agree.
    """
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    depth, colour, compression, filtering, interlace = data[24:29]
    if depth != 8 or compression or filtering or interlace:
        return None
    if (colour, mode) not in ((0, "L"), (2, "RGB")):
        return None
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack("!I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        elif kind in (b"tRNS", b"PLTE"):
            return None
        elif kind == b"IEND":
            break
        pos += 12 + length
    return b"".join(chunks) or None


def _mend_png_images() -> None:
    """WeasyPrint embeds a PNG's own compressed data when it can, instead of re-encoding it.

    WeasyPrint 70 decodes every PNG and encodes it again with Pillow to get its IDAT data,
    ~6 % of a treatment summary's instructions for the pain chart (960 × 315 px). For a
    PNG whose data a PDF can hold as it is (``png_idat``), that data is used instead: the
    same pixels, the same PDF image dictionary. Anything else goes the usual way.
    """
    from PIL import PngImagePlugin
    from weasyprint.images import RasterImage

    original = RasterImage.__dict__.get("_get_png_data")
    if not isinstance(original, staticmethod) or getattr(original.__func__, "mended", False):
        return
    reencode = original.__func__

    def get_png_data(pillow_image: Any) -> bytes:
        fp = getattr(pillow_image, "fp", None)
        data = None
        if isinstance(pillow_image, PngImagePlugin.PngImageFile) and hasattr(fp, "getvalue"):
            data = png_idat(fp.getvalue(), pillow_image.mode)
        return reencode(pillow_image) if data is None else data

    get_png_data.mended = True  # type: ignore[attr-defined]
    RasterImage._get_png_data = staticmethod(get_png_data)


# The user-agent rules of WeasyPrint 70 that give *every* element five pseudo-elements
# for footnotes and notes (::footnote-call, ::note-marker …). They make boxes only for an
# element with ``float: footnote`` or ``position: note()``, which no Stillpoint document
# uses, yet their styles are computed for each element: ~1,000 per treatment summary.
_NOTE_PSEUDO_RULES = re.compile(
    r"^::(?:footnote-call|footnote-marker|note-call|note-marker|note-callback) \{[^}]*\}\n",
    re.MULTILINE,
)


@cache
def _ua_without_notes() -> Any:
    """WeasyPrint's HTML user-agent stylesheet without the footnote and note pseudo-elements.

    ``None`` if the stylesheet is not the one this was written for (the five rules not found).
    """
    from weasyprint import CSS, html
    from weasyprint.css.counters import CounterStyle

    text, removed = _NOTE_PSEUDO_RULES.subn("", html.UA)
    if removed != 5:
        return None
    # Its @counter-style rules go to a dict of their own: WeasyPrint's own copy of them
    # (UA_COUNTER_STYLE, which documents use) already has them, and refuses a second
    # 'disc' or 'decimal' with a warning.
    return CSS(string=text, counter_style=CounterStyle())


def _mentions_notes(text: str) -> bool:
    """Whether ``text`` could ask for a footnote (``float: footnote``) or a note (``note()``)."""
    lowered = text.lower()  # CSS keywords are case-insensitive; a regex here costs ~1 %
    return "footnote" in lowered or "note(" in lowered


def _without_note_pseudo_elements(document: Any, css_source: str, html: str) -> None:
    """Let ``document`` use the user-agent stylesheet without footnotes and notes.

    Only when neither the print stylesheet nor the document mentions footnotes or notes:
    then those pseudo-elements could never make a box, and the PDF is the same, page
    for page. Saves ~4.5 % of a treatment summary's instructions (cascade and styles).
    """
    ua = _ua_without_notes()
    if ua is None or _mentions_notes(css_source) or _mentions_notes(html):
        return
    from weasyprint.html import UA_FORM_STYLESHEET

    def ua_stylesheets(forms: bool = False) -> list[Any]:
        return [ua, UA_FORM_STYLESHEET] if forms else [ua]

    document._ua_stylesheets = ua_stylesheets


def compress_streams(_document: Any, pdf: Any) -> None:
    """A ``write_pdf`` finisher: Flate-compress every stream once, at zlib's default level.

    pydyf compresses a stream each time it serialises it, at level 9, and the file
    identifier PDF/A requires makes it serialise every object twice (for an MD5 of the
    whole file): ~270 kB of fonts and page content went through zlib -9 twice per summary.
    Done here once at level 6, the streams come out ~1 % larger and the PDF is otherwise
    the same. Streams pydyf would not compress (images, already encoded) are left alone.
    """
    import pydyf

    to_bytes = getattr(pydyf, "_to_bytes", None)
    if to_bytes is None:  # a pydyf without it: let pydyf compress as before
        return
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and obj.compress and "Filter" not in obj.extra:
            raw = b"\n".join(to_bytes(item) for item in obj.stream)
            obj.stream = [zlib.compress(raw)]
            obj.extra["Filter"] = "/FlateDecode"
            obj.compress = False


class _CollectorPause:
    """Counts the renders under way, so that the last one to finish turns the collector on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.renders = 0
        self.was_enabled = False

    def enter(self) -> None:
        with self.lock:
            if self.renders == 0:
                self.was_enabled = gc.isenabled()
                gc.disable()
            self.renders += 1

    def leave(self) -> None:
        with self.lock:
            self.renders -= 1
            if self.renders == 0 and self.was_enabled:
                gc.enable()


_pause = _CollectorPause()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while WeasyPrint works, back on afterwards.

    A render allocates ~100,000 objects that stay alive until it ends. With the collector
    on, each young collection walks them again, and every few renders the allocations
    set off a full collection of the whole heap (the app, SQLAlchemy and WeasyPrint, ~190,000
    objects): ~40 ms of CPU per treatment summary on average, 130+ ms for the render that
    gets the full collection. Paused, the render's garbage (WeasyPrint leaves reference
    cycles) is collected once, by the first collection after it (~10 ms). A render's peak
    memory grows by a few hundred kB. Other threads rendering at the same time share the pause.
    """
    _pause.enter()
    try:
        yield
    finally:
        _pause.leave()


@cache
def _fetcher_class() -> type:
    """Build the fetcher class (it must subclass WeasyPrint's, imported lazily)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Serve files under ``root`` and ``data:`` URLs; refuse everything else."""

        def __init__(self, root: str | Path) -> None:
            super().__init__(allowed_protocols=["data"], allow_redirects=False)
            self.root = Path(root).resolve()

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = self._local_path(url)
                mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    url, path.read_bytes(), headers={"Content-Type": mimetype}
                )
            raise PdfResourceRefused(f"refused to fetch {url[:80]!r}: not a static file")

        def _local_path(self, url: str) -> Path:
            raw = unquote(urlsplit(url).path)
            if ".." in raw.split("/"):
                raise PdfResourceRefused(f"refused {url[:80]!r}: '..' in path")
            path = Path(url2pathname(urlsplit(url).path)).resolve()
            if not path.is_relative_to(self.root) or not path.is_file():
                raise PdfResourceRefused(f"refused {url[:80]!r}: outside the static folder")
            return path

    return StaticOnlyFetcher


def static_fetcher(root: str | Path | None = None) -> Any:
    """A fetcher limited to ``root`` (default: the current app's static folder)."""
    return _fetcher_class()(root or current_app.static_folder)


def _static_base_url() -> str:
    return Path(current_app.static_folder or ".").resolve().as_uri() + "/"


def _stylesheet() -> tuple[Any, Any]:
    """The parsed print stylesheet and its FontConfiguration, built once per thread and app."""
    key = (id(current_app._get_current_object()), current_app.static_folder)  # type: ignore[attr-defined]
    cached = getattr(_local, "stylesheet", None)
    if cached is None or cached[0] != key or current_app.debug:
        wp = _weasyprint()
        from weasyprint.text.fonts import FontConfiguration

        fonts = FontConfiguration()
        source = current_app.jinja_env.loader.get_source(current_app.jinja_env, STYLESHEET)[0]  # type: ignore[union-attr]
        css = wp.CSS(
            string=source,
            base_url=_static_base_url(),
            url_fetcher=static_fetcher(),
            font_config=fonts,
        )
        cached = (key, css, fonts, source)
        _local.stylesheet = cached
    return cached[1], cached[2]


def _stylesheet_source() -> str:
    """The text of the print stylesheet ``_stylesheet`` parsed (for this thread and app)."""
    return _local.stylesheet[3]


def render_pdf(
    template_name: str, *, attachments: list[PdfAttachment] | None = None, **ctx: Any
) -> bytes:
    """Render ``templates/<template_name>`` to PDF/A-3b bytes, embedding ``attachments``.

    Metadata comes from the template's <title> and <meta name=author|description|keywords>.
    """
    wp = _weasyprint()
    css, fonts = _stylesheet()
    source = _stylesheet_source()
    html = render_template(template_name, **ctx)
    fetcher = static_fetcher()
    with collector_paused():
        document = wp.HTML(string=html, base_url=_static_base_url(), url_fetcher=fetcher)
        _without_note_pseudo_elements(document, source, html)
        # An Attachment object is consumed by one render: build new ones every time.
        embedded = [
            wp.Attachment(
                string=a.data,
                name=a.name,
                description=a.description,
                created=a.created,
                modified=a.created,
                relationship="Data",
                url_fetcher=fetcher,
            )
            for a in attachments or []
        ]
        return document.write_pdf(
            stylesheets=[css],
            font_config=fonts,
            attachments=embedded,
            pdf_variant=PDF_VARIANT,
            finisher=compress_streams,
        )


def pdf_response(data: bytes, filename: str, *, inline: bool = True) -> Response:
    """A download (or in-browser view) of PDF bytes; for views only."""
    response = Response(data, mimetype="application/pdf")
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def warm_up() -> None:
    """Import WeasyPrint now (e.g. in a worker's initializer) rather than on first render."""
    _weasyprint()
