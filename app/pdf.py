"""PDF documents: the ONLY way into WeasyPrint.

``render_pdf(template, **ctx)`` renders a Jinja template from ``templates/pdf/``
with the shared print stylesheet and returns PDF/A-3b bytes. Resources are
fetched by ``StaticOnlyFetcher``: files under the app's static folder and
``data:`` URLs, nothing else — a note containing ``<img src="file:///etc/passwd">``
or an attachment link pulls nothing in.

WeasyPrint is imported on first use (the import alone takes ~0.6 s) and once per
process; the parsed stylesheet and its FontConfiguration are kept per thread and
reused for every render.
"""

from __future__ import annotations

import mimetypes
import threading
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

    return weasyprint


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
        cached = (key, css, fonts)
        _local.stylesheet = cached
    return cached[1], cached[2]


def render_pdf(
    template_name: str, *, attachments: list[PdfAttachment] | None = None, **ctx: Any
) -> bytes:
    """Render ``templates/<template_name>`` to PDF/A-3b bytes, embedding ``attachments``.

    Metadata comes from the template's <title> and <meta name=author|description|keywords>.
    """
    wp = _weasyprint()
    css, fonts = _stylesheet()
    html = render_template(template_name, **ctx)
    fetcher = static_fetcher()
    document = wp.HTML(string=html, base_url=_static_base_url(), url_fetcher=fetcher)
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
