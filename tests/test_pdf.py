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
