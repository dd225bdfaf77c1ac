"""The chart's visit and receipt rows (built in Python) and the remembered template links."""

from __future__ import annotations

import re
from datetime import date, time
from html import unescape

import pytest
from flask import url_for
from jinja2.filters import do_truncate
from markupsafe import escape

from app.extensions import db
from app.models.receipt import PAYMENT_METHODS
from app.patients.chart_rows import shorten
from app.receipts import services as receipt_services
from app.urls import remembering_url_for
from tests import factories as f

HOSTILE = '<script>alert("x")</script> & Co'


def _rows(html: str, heading: str) -> list[str]:
    section = html.split(f'id="{heading}"', 1)[1]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", body, flags=re.S)


def _text(row: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip())


@pytest.fixture
def chart(world):
    """Three visits of Ada: signed by a therapist with a hostile name and complaint (with a
    receipt), a draft, and a signed no-show."""
    f.make_fee_schedule(world.clinic)
    world.therapist2.full_name = HOSTILE
    complaint = "Low back <b>pain</b> & stiffness " + "after lifting boxes at work " * 4
    signed = f.make_visit(
        world.patient, world.therapist2, day=date(2026, 3, 2), start=time(9, 5), signed=True,
        chief_complaint=complaint, pain_before=6, pain_after=2,
    )  # fmt: skip
    draft = f.make_visit(world.patient, world.therapist, day=date(2026, 3, 9), start=time(14, 30))
    no_show = f.make_visit(
        world.patient, world.therapist, day=date(2026, 3, 16), signed=True, attendance="no_show"
    )
    receipt = f.make_receipt(signed)
    db.session.commit()
    world.rows = {"signed": signed, "draft": draft, "no_show": no_show, "receipt": receipt}
    world.complaint = complaint
    return world


def test_visit_rows_show_each_visit_and_escape_what_people_typed(login_as, chart):
    html = login_as("therapist").get(f"/patients/{chart.patient.id}").get_data(as_text=True)
    assert "<script>" not in html and "<b>pain" not in html
    newest, middle, oldest = _rows(html, "visits-h")
    v = chart.rows
    assert f'href="/visits/{v["no_show"].id}">2026-03-16</a>' in newest
    assert _text(newest).startswith("2026-03-16 10:00 · 60 min Theo Therapist No-show")
    assert f'href="/visits/{v["draft"].id}">2026-03-09</a>' in middle
    assert '<span class="draft">Draft</span>' in middle and "– → –" in middle
    assert _text(oldest).startswith("2026-03-02 09:05 · 60 min")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in oldest
    assert "Low back &lt;b&gt;pain&lt;/b&gt; &amp; stiffness" in oldest
    shown = shorten(chart.complaint)
    assert shown.endswith("...") and f"<td>{escape(shown)}</td>" in oldest
    assert str(escape(chart.complaint)) not in oldest and "6 → 2" in oldest


def test_visit_rows_for_the_front_desk_have_no_clinical_columns(login_as, chart):
    html = login_as("front_desk").get(f"/patients/{chart.patient.id}").get_data(as_text=True)
    rows = _rows(html, "visits-h")
    assert len(rows) == 3
    assert all('href="/visits/' not in row for row in rows)
    assert "Low back" not in html and "6 → 2" not in html
    assert _text(rows[2]) == f"2026-03-02 09:05 · 60 min {HOSTILE} Signed"


def test_receipt_rows_link_each_receipt_and_mark_a_void(login_as, chart):
    client = login_as("front_desk")
    receipt = chart.rows["receipt"]
    html = client.get(f"/patients/{chart.patient.id}").get_data(as_text=True)
    [row] = _rows(html, "receipts-h")
    assert f'<a href="/receipts/{receipt.id}">{receipt.number:06d}</a>' in row
    assert "<script>" not in row and "&lt;script&gt;" in row
    total = receipt_services.money(receipt.total_cents)
    label = PAYMENT_METHODS["debit"]
    assert (
        _text(row) == f"{receipt.number:06d} 2026-03-02 09:05 {HOSTILE}, RMT {total} {label} Issued"
    )
    assert 'class="inactive"' not in row
    receipt_services.void(receipt, chart.owner, "Wrong payment method")
    db.session.commit()
    [row] = _rows(client.get(f"/patients/{chart.patient.id}").get_data(as_text=True), "receipts-h")
    assert row.startswith('<tr class="inactive">') and '<span class="badge void">Void</span>' in row


@pytest.mark.parametrize(
    "text",
    ["", "Neck pain", "x" * 65, "x" * 66, "word " * 20, "Pain after a fall down the stairs at home"
     " last winter, worse when sitting for long"],
)  # fmt: skip
def test_shorten_cuts_as_jinjas_truncate_did(app, text):
    assert shorten(text) == do_truncate(app.jinja_env, text, 60)


def test_remembered_links_are_the_links_url_for_builds(app):
    remembered = remembering_url_for()
    with app.test_request_context("/patients/3"):
        first = remembered("patients.show", patient_id=3)
        assert (
            first
            == remembered("patients.show", patient_id=3)
            == url_for("patients.show", patient_id=3)
        )
        assert remembered("patients.show", patient_id=4) == "/patients/4"
        anchored = remembered("patients.show", patient_id=3, before="x_1", _anchor="visits-h")
        assert anchored == "/patients/3?before=x_1#visits-h"
        assert remembered("patients.index", q=["a", "b"]) == "/patients/?q=a&q=b"
    with app.test_request_context("/patients/3", base_url="http://clinic.test/stillpoint"):
        assert remembered("patients.show", patient_id=3) == "/stillpoint/patients/3"
