"""app/pdf.py: the one WeasyPrint entry point and its URL fetcher (no database needed)."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from flask import Flask
from jinja2 import ChoiceLoader, DictLoader
from pypdf import PdfReader

from app import create_app
from app.pdf import PdfAttachment, PdfResourceRefused, render_pdf, static_fetcher

SECRET = Path("/etc/passwd")

PAGE = """{% extends "pdf/_layout.html" %}
{% block title %}Fetcher test{% endblock %}
{% block author %}Harbour Massage Therapy{% endblock %}
{% block content %}<p>Hello {{ name }}</p>{{ extra|safe }}{% endblock %}"""


@pytest.fixture
def pdf_app(tmp_path: Path) -> Flask:
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "TESTING": True})
    app.jinja_loader = ChoiceLoader([DictLoader({"pdf/test.html": PAGE}), app.jinja_loader])
    with app.app_context():
        yield app


def _streams(data: bytes) -> bytes:
    """Every stream of the PDF, inflated where compressed, concatenated."""
    reader = PdfReader(io.BytesIO(data))
    out = [data]
    for number in range(1, int(reader.trailer["/Size"])):
        try:
            obj = reader.get_object(number)
        except Exception:  # noqa: S112 - probing object numbers
            continue
        if obj is not None and hasattr(obj, "get_data"):
            try:
                out.append(obj.get_data())
            except (zlib.error, ValueError, NotImplementedError):
                continue
    return b"\n".join(out)


def _attachment_names(data: bytes) -> list[str]:
    return sorted(PdfReader(io.BytesIO(data)).attachments)


def test_render_pdf_makes_pdf_a_with_metadata_and_attachments(pdf_app):
    attachment = PdfAttachment("data.json", b'{"ok": true}', "test data")
    first = render_pdf("pdf/test.html", name="Ada", extra="", attachments=[attachment])
    second = render_pdf("pdf/test.html", name="Ada", extra="", attachments=[attachment])
    for data in (first, second):  # an Attachment is rebuilt for every render
        reader = PdfReader(io.BytesIO(data))
        assert reader.metadata.title == "Fetcher test"
        assert reader.metadata.author == "Harbour Massage Therapy"
        assert 'pdfaid:part="3"' in reader.xmp_metadata.stream.get_data().decode()
        assert reader.attachments["data.json"] == [b'{"ok": true}']
        assert "Hello Ada" in reader.pages[0].extract_text()
    fonts = PdfReader(io.BytesIO(first)).pages[0]["/Resources"]["/Font"].values()
    assert all("DejaVu-Sans" in font.get_object()["/BaseFont"] for font in fonts)


@pytest.mark.parametrize(
    "markup",
    [
        f'<img src="file://{SECRET}">',
        f'<a rel="attachment" href="file://{SECRET}">passwd</a>',
        f'<link rel="attachment" href="file://{SECRET}">',
        f'<img src="file://{SECRET}?x=1#y">',
        '<img src="../../../../../../etc/passwd">',
        '<link rel="stylesheet" href="file:///etc/passwd">',
        '<img src="http://169.254.169.254/latest/meta-data/">',
        '<a rel="attachment" href="https://example.com/x.bin">x</a>',
        '<img src="ftp://example.com/x.png">',
    ],
)
def test_fetcher_pulls_in_nothing_outside_the_static_folder(pdf_app, markup):
    data = render_pdf("pdf/test.html", name="Ada", extra=markup)
    assert data.startswith(b"%PDF")
    assert _attachment_names(data) == []
    content = _streams(data)
    secret = SECRET.read_bytes()
    assert secret[:40] not in content
    assert b"root:x:0:0" not in content


def test_fetcher_serves_static_files_and_data_urls_only(pdf_app):
    fetcher = static_fetcher()
    static = Path(pdf_app.static_folder)
    favicon = fetcher.fetch((static / "favicon.svg").as_uri())
    assert favicon.read().startswith(b"<svg") or b"<svg" in (static / "favicon.svg").read_bytes()
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    for url in (
        SECRET.as_uri(),
        (static / ".." / "config.py").as_uri(),
        f"file://{static}/../config.py",
        f"file://{static}/%2e%2e/config.py",
        f"file://{static}/missing.png",
        "http://localhost/static/favicon.svg",
        "https://example.com/",
        "gopher://example.com/",
        "javascript:alert(1)",
    ):
        with pytest.raises((PdfResourceRefused, ValueError)):
            fetcher.fetch(url)


def test_a_static_image_is_embedded(pdf_app):
    data = render_pdf("pdf/test.html", name="Ada", extra='<img src="favicon.svg" alt="">')
    assert data.startswith(b"%PDF")
    # the SVG was drawn: its drawing commands add to the page stream
    plain = render_pdf("pdf/test.html", name="Ada", extra="")
    assert len(_streams(data)) > len(_streams(plain))


def test_streams_are_compressed_once_and_the_pdf_keeps_its_identifier(pdf_app):
    data = render_pdf("pdf/test.html", name="Ada", extra="")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.trailer["/ID"]) == 2  # PDF/A's file identifier
    streams = [
        reader.get_object(n)
        for n in range(1, int(reader.trailer["/Size"]))
        if hasattr(reader.get_object(n), "get_data")
    ]
    assert streams and all(s.get("/Filter") for s in streams)  # fonts, page, metadata …
    assert "Hello Ada" in reader.pages[0].extract_text()


def test_tinyhtml5_regexes_are_built_once(pdf_app):
    from tinyhtml5 import inputstream

    render_pdf("pdf/test.html", name="Ada", extra="<p class='x' id=\"y\">a &amp; b</p>")
    cache = inputstream.characters_until_regex
    assert isinstance(cache, dict) and cache
    assert all(not hasattr(key[0], "pattern") for key in cache)  # keyed by the characters
    built = dict(cache)
    render_pdf("pdf/test.html", name="Ada", extra="<p class='x' id=\"y\">a &amp; b</p>")
    assert inputstream.characters_until_regex == built


def test_the_collector_is_paused_during_a_render_only(pdf_app, monkeypatch):
    import gc

    import app.pdf as pdf

    seen = []
    original = pdf.compress_streams

    def finisher(document, writer):  # runs inside write_pdf
        seen.append(gc.isenabled())
        original(document, writer)

    monkeypatch.setattr(pdf, "compress_streams", finisher)
    assert gc.isenabled()
    render_pdf("pdf/test.html", name="Ada", extra="")
    assert seen == [False] and gc.isenabled()
    with pytest.raises(PdfResourceRefused), pdf.collector_paused():
        assert not gc.isenabled()
        with pdf.collector_paused():  # nested or concurrent renders share the pause
            pass
        assert not gc.isenabled()
        raise PdfResourceRefused("boom")
    assert gc.isenabled()
    gc.disable()
    try:  # a collector someone else turned off stays off
        with pdf.collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def _png(mode: str, size: tuple[int, int] = (37, 23), **save: object) -> bytes:
    from PIL import Image

    image = Image.new(mode, size)
    image.putdata(
        [
            (i * 7 % 256, i * 3 % 256, i % 256, 255 - i % 256)[: len(mode)]
            if len(mode) > 1
            else i * 7 % 256
            for i in range(size[0] * size[1])
        ]
    )
    out = io.BytesIO()
    image.save(out, format="PNG", **save)
    return out.getvalue()


@pytest.mark.parametrize(
    ("mode", "save", "as_is"),
    [
        ("L", {}, True),
        ("RGB", {"compress_level": 1}, True),
        ("P", {}, False),  # a palette: converted to RGB by WeasyPrint as before
        ("RGBA", {}, False),  # alpha: split into an SMask as before
    ],
)
def test_png_images_keep_their_pixels_and_their_own_data_when_a_pdf_can_hold_it(
    pdf_app, mode, save, as_is
):
    import base64

    from PIL import Image

    from app.pdf import png_idat

    png = _png(mode, **save)
    uri = f"data:image/png;base64,{base64.b64encode(png).decode()}"
    data = render_pdf("pdf/test.html", name="Ada", extra=f'<img src="{uri}" alt="x">')
    [image] = PdfReader(io.BytesIO(data)).pages[0].images
    original = Image.open(io.BytesIO(png))
    assert image.image.size == original.size
    assert image.image.convert("RGB").tobytes() == original.convert("RGB").tobytes()
    idat = png_idat(png, original.mode)
    assert (idat is not None) is as_is
    if as_is:  # the PNG's compressed data is in the PDF byte for byte, not re-encoded
        assert idat in data


def test_png_idat_refuses_what_a_pdf_image_cannot_hold_as_it_is():
    from app.pdf import png_idat

    png = _png("L")
    assert png_idat(png, "L")
    assert png_idat(png, "RGB") is None  # Pillow's mode must agree with the header
    interlaced = png[:28] + b"\x01" + png[29:]  # Adam7 (the header's CRC is not checked)
    assert png_idat(interlaced, "L") is None
    sixteen_bit = png[:24] + b"\x10" + png[25:]
    assert png_idat(sixteen_bit, "L") is None
    assert png_idat(b"GIF89a" + png[6:], "L") is None


def _page_contents(data: bytes) -> list[bytes]:
    return [page.get_contents().get_data() for page in PdfReader(io.BytesIO(data)).pages]


def test_documents_without_notes_skip_the_note_pseudo_elements_and_look_the_same(
    pdf_app, monkeypatch
):
    import app.pdf as pdf

    assert pdf._ua_without_notes() is not None  # WeasyPrint's stylesheet has the five rules
    extra = "<h2>Visits</h2><p><b>Chief complaint</b>\tNeck pain</p>" * 30
    extra += "<ul><li>Neck</li><li>Shoulder</li></ul><ol><li>One</li><li>Two</li></ol>"
    trimmed = render_pdf("pdf/test.html", name="Ada", extra=extra)
    monkeypatch.setattr(pdf, "_ua_without_notes", lambda: None)
    stock = render_pdf("pdf/test.html", name="Ada", extra=extra)
    assert _page_contents(trimmed) == _page_contents(stock)


def test_a_document_with_a_footnote_keeps_the_whole_user_agent_stylesheet(pdf_app):
    extra = (
        "<style>.fn { float: footnote }</style>"
        '<p>Massage<span class="fn">Thirty minutes or more.</span> helps.</p>'
    )
    data = render_pdf("pdf/test.html", name="Ada", extra=extra)
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Thirty minutes or more." in text


def test_the_qr_code_is_segnos_symbol_as_an_8_bit_greyscale_png():
    import base64

    import segno
    from PIL import Image

    from app.pdf import png_idat
    from app.receipts.documents import qr_data_uri

    url = "https://clinic.example/verify/ABCD-EFGH-JKLM"
    png = base64.b64decode(qr_data_uri(url).split(",", 1)[1])
    ours = Image.open(io.BytesIO(png))
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=4, border=0)
    theirs = Image.open(io.BytesIO(out.getvalue())).convert("L")
    assert ours.mode == "L" and ours.size == theirs.size
    assert ours.tobytes() == theirs.tobytes()
    assert png_idat(png, ours.mode)  # goes into the PDF as it is
