"""Receipts (B1–B6): issuing, refusals, numbering, DUPLICATE, VOID, immutability, roles."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import date, time, timedelta

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import (
    AuditEvent,
    ImmutableRecordError,
    Receipt,
    ReceiptReissue,
    Visit,
    utcnow,
)
from app.receipts import services
from tests import factories as f

SERVICE_DAY = date(2026, 3, 14)


def pdf_text(data: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it (layout kept, spaces normalised)."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    return " ".join(out.split())


def attachments(data: bytes) -> dict[str, bytes]:
    return {name: blobs[0] for name, blobs in PdfReader(io.BytesIO(data)).attachments.items()}


def events(action: str, **where) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)))


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 60), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def billed(world):
    """Clinic A with a fee schedule, an HST number and a signed 60-minute visit by Theo."""
    world.clinic.business_number = "812345678 RT0001"
    world.therapist.registering_body = "College of Massage Therapists of Ontario"
    world.therapist.signature_image, world.therapist.signature_mimetype = _png(), "image/png"
    f.make_fee_schedule(world.clinic)
    world.visit = f.make_visit(
        world.patient, world.therapist, signed=True, day=SERVICE_DAY, start=time(14, 30)
    )
    db.session.commit()
    return world


def _issue(client, visit: Visit, **data):
    form = {"fee": "120.00", "payment_method": "debit", "reason": "", **data}
    return client.post(f"/visits/{visit.id}/receipts", form)


def _receipts(visit_id: int | None = None) -> list[Receipt]:
    db.session.expire_all()
    stmt = select(Receipt).order_by(Receipt.number)
    if visit_id:
        stmt = stmt.where(Receipt.visit_id == visit_id)
    return list(db.session.scalars(stmt))


def test_therapist_issues_a_receipt_with_every_insurer_field(login_as, billed):
    c = login_as("therapist")
    response = _issue(c, billed.visit)
    assert response.status_code == 302
    [receipt] = _receipts()
    assert response.headers["Location"] == f"/receipts/{receipt.id}"
    pdf = c.get(f"/receipts/{receipt.id}/receipt.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    body = pdf_text(pdf.data)
    issued = services.local_date(receipt.issued_at)
    expected = [
        # B1 clinic
        "Harbour Massage Therapy",
        "1 Harbour Street, Toronto, ON M5J 1A1",
        "416-555-0199",
        "HST / Business No. 812345678 RT0001",
        # B2 patient and service
        "Ada Lovelace",
        "March 14, 2026",
        "2:30 p.m.",
        "Massage Therapy treatment – 60 minutes",
        # B3 therapist
        "Theo Therapist, RMT",
        f"Registration No. {billed.therapist.registration_number}",
        "College of Massage Therapists of Ontario",
        "SIGNATURE OF THE TREATING THERAPIST",
        # B4 money, payment, number and date
        "Subtotal $120.00",
        "HST (13 %) $15.60",
        "Total $135.60",
        "Paid (Debit card) $135.60",
        "PAID IN FULL",
        "Receipt No. 000001",
        f"Date issued {issued:%B} {issued.day}, {issued.year}",
    ]
    for field in expected:
        assert field in body, field
    assert "DUPLICATE —" not in body and "VOID —" not in body
    # the signature image is embedded (the only raster images: signature and QR code)
    page = PdfReader(io.BytesIO(pdf.data)).pages[0]
    assert len(page.images) == 2
    assert [e.details["copy"] for e in events("receipt:print")] == ["original"]
    [issued_event] = events("receipt:issue")
    assert issued_event.patient_id == billed.patient.id and issued_event.details["number"] == 1


def test_pdf_is_pdf_a_with_metadata_and_the_json_matches_the_receipt(login_as, billed):
    c = login_as("therapist")
    _issue(c, billed.visit)
    [receipt] = _receipts()
    data = c.get(f"/receipts/{receipt.id}/receipt.pdf").data
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata.title == "Receipt 000001 – Harbour Massage Therapy"
    assert reader.metadata.author == "Harbour Massage Therapy"
    xmp = reader.xmp_metadata
    assert xmp is not None
    xml = xmp.stream.get_data().decode()
    assert 'pdfaid:part="3"' in xml and 'pdfaid:conformance="B"' in xml
    payload = json.loads(attachments(data)["receipt.json"])
    assert payload["receipt_number"] == "000001" and payload["copy"] == "original"
    assert payload["patient"] == {"full_name": "Ada Lovelace"}
    assert payload["service"] == {
        "date": "2026-03-14",
        "start_time": "14:30",
        "duration_minutes": 60,
        "description": "Massage Therapy treatment – 60 minutes",
    }
    assert payload["therapist"]["registration_number"] == billed.therapist.registration_number
    assert payload["amounts"] == {
        "currency": "CAD",
        "fee": "120.00",
        "tax_name": "HST",
        "tax_rate_percent": 13.0,
        "tax": "15.60",
        "total": "135.60",
        "paid": "135.60",
    }
    assert payload["paid_in_full"] is True and payload["payment_method"] == "Debit card"
    assert payload["clinic"]["business_number"] == "812345678 RT0001"
    assert payload["verification"]["code"] == receipt.verification_code
    assert payload["verification"]["url"].endswith(f"/verify/{receipt.verification_code}")


def test_front_desk_issues_in_the_treating_rmts_name(login_as, billed):
    assert _issue(login_as("front_desk"), billed.visit).status_code == 302
    [receipt] = _receipts()
    assert receipt.therapist_id == billed.therapist.id
    assert receipt.therapist_name == "Theo Therapist" and receipt.issued_by_id == billed.desk.id
    assert "Dana Desk" not in pdf_text(services_render(receipt))


def services_render(receipt: Receipt, copy: ReceiptReissue | None = None) -> bytes:
    from app.receipts.documents import render_receipt

    return render_receipt(receipt, copy)


def test_therapist_cannot_issue_for_another_rmts_visit(login_as, billed):
    other = f.make_visit(billed.patient, billed.therapist2, signed=True, day=SERVICE_DAY)
    db.session.commit()
    assert _issue(login_as("therapist"), other).status_code == 403
    assert _receipts() == []
    page = login_as("therapist").get(f"/visits/{other.id}/receipts").get_data(as_text=True)
    assert "Issue receipt" not in page


def test_refused_for_unsigned_cancelled_and_no_show_visits(login_as, billed):
    c = login_as("owner")
    draft = f.make_visit(billed.patient, billed.therapist, day=date(2026, 3, 15))
    cancelled = f.make_visit(
        billed.patient, billed.therapist, day=date(2026, 3, 16), attendance="cancelled"
    )
    no_show = f.make_visit(
        billed.patient, billed.therapist, day=date(2026, 3, 17), attendance="no_show", signed=True
    )
    db.session.commit()
    for visit, message in (
        (draft, "not signed yet"),
        (cancelled, "This visit was cancelled"),
        (no_show, "missed (no-show)"),
    ):
        response = _issue(c, visit)
        assert response.status_code == 302
        page = c.get(response.headers["Location"]).get_data(as_text=True)
        assert message in page, message
    assert _receipts() == []
    assert events("receipt:issue") == []
    with pytest.raises(services.ReceiptRefused):
        services.issue_receipt(no_show, billed.owner, fee_cents=12000, payment_method="debit")


def test_a_no_show_fee_is_recorded_but_never_a_receipt(login_as, billed):
    no_show = f.make_visit(
        billed.patient, billed.therapist, day=date(2026, 3, 17), attendance="no_show"
    )
    db.session.commit()
    c = login_as("front_desk")
    page = c.get(f"/visits/{no_show.id}/receipts").get_data(as_text=True)
    assert "Record a no-show fee" in page and "Issue receipt" not in page
    response = c.post(
        f"/visits/{no_show.id}/missed-fee", {"fee": "60", "payment_method": "credit", "note": ""}
    )
    assert response.status_code == 302
    [fee] = events("missed_visit_fee:create")
    assert fee.details["total_cents"] == 6780
    assert _receipts() == []
    again = c.post(f"/visits/{no_show.id}/missed-fee", {"fee": "60", "payment_method": ""})
    assert "already recorded" in c.get(again.headers["Location"]).get_data(as_text=True)
    chart = c.get(f"/patients/{billed.patient.id}").get_data(as_text=True)
    assert "Cancellation and no-show fees" in chart and "$67.80" in chart


@pytest.mark.parametrize(
    "signed", [4, 22, 35], ids=["every-visit-on-the-page", "within-the-lookahead", "beyond-it"]
)
def test_chart_unbilled_visits_read_off_the_page_match_the_database(billed, signed):
    """The Receipts section reads the unbilled visits off the rows of the chart's first
    page of visits (the page and the visits read past it) when they are every visit, and
    the section lists every receipt; else it queries them: the same visits either way, a
    voided receipt's visit among them."""
    from app.patients import services as chart
    from app.visits import services as visit_services

    visits = [billed.visit] + [
        f.make_visit(
            billed.patient, billed.therapist, signed=True, day=date(2026, 1, 1) + timedelta(i)
        )
        for i in range(signed - 1)
    ]
    f.make_visit(billed.patient, billed.therapist, day=date(2026, 3, 20))  # a draft
    f.make_visit(
        billed.patient, billed.therapist, day=date(2026, 3, 21), signed=True, attendance="no_show"
    )
    receipts = [f.make_receipt(v) for v in visits[::2]]
    services.void(receipts[0], billed.owner, "Wrong payment method")
    db.session.commit()

    page = visit_services.patient_visits(billed.patient)
    section = chart.chart_receipts(billed.patient, page, has_missed_fees=False)
    on_page = chart._unbilled_on_page(page, section["receipts"])
    every_visit = signed + 2 < 20 + visit_services.LOOKAHEAD  # with the draft and no-show
    assert (on_page is None) == (not every_visit)
    _, unbilled, _ = chart._receipt_statements()
    queried = db.session.execute(unbilled, {"patient_id": billed.patient.id}).all()
    assert [v.id for v in section["unbilled"]] == [row.id for row in queried]
    assert {v.id for v in section["unbilled"]} == {v.id for v in visits[1::2]} | {visits[0].id}


def test_second_original_is_refused_even_when_racing_the_check(login_as, billed):
    c = login_as("therapist")
    _issue(c, billed.visit)
    second = _issue(c, billed.visit)
    assert "was already issued" in c.get(second.headers["Location"]).get_data(as_text=True)
    assert len(_receipts()) == 1
    # The database refuses a second first-original even when the service check is bypassed.
    first = _receipts()[0]
    twin = Receipt(
        **{
            c.key: getattr(first, c.key)
            for c in Receipt.__table__.columns
            if c.key not in {"id", "number", "verification_code"}
        },
        number=99,
        verification_code="another-code",
    )
    db.session.add(twin)
    with pytest.raises(DBAPIError):
        db.session.flush()
    db.session.rollback()


def test_fee_off_the_schedule_needs_a_reason(login_as, billed):
    c = login_as("therapist")
    response = _issue(c, billed.visit, fee="100.00")
    assert "departs from the clinic" in c.get(response.headers["Location"]).get_data(as_text=True)
    assert _receipts() == []
    _issue(c, billed.visit, fee="100.00", reason="Student rate agreed with the owner")
    [receipt] = _receipts()
    assert receipt.fee_cents == 10000 and receipt.scheduled_fee_cents == 12000
    assert receipt.tax_cents == 1300 and receipt.total_cents == 11300
    assert receipt.fee_reason == "Student rate agreed with the owner"


def test_gift_certificate_shows_zero_paid_by_gift_certificate(login_as, billed):
    c = login_as("front_desk")
    _issue(c, billed.visit, payment_method="gift_certificate")
    [receipt] = _receipts()
    assert (receipt.fee_cents, receipt.tax_cents, receipt.total_cents) == (0, 0, 0)
    body = pdf_text(c.get(f"/receipts/{receipt.id}/receipt.pdf").data)
    assert "$0.00 paid by gift certificate" in body
    assert "Total $0.00" in body and "PAID IN FULL" not in body


def test_clinic_without_tax_prints_zero_tax(login_as, billed):
    c = login_as("owner")
    response = c.post(
        "/admin/billing",
        {
            "tax_name": "Tax",
            "tax_rate": "0",
            "payment_methods": ["cash", "debit"],
            "fees-0-minutes": "60",
            "fees-0-fee": "110",
        },
    )
    assert response.status_code == 302
    [event] = events("billing:update")
    assert event.details["fees"] == {"60": 11000} and event.details["tax_rate_bp"] == 0
    _issue(c, billed.visit, fee="110", payment_method="cash")
    [receipt] = _receipts()
    body = pdf_text(c.get(f"/receipts/{receipt.id}/receipt.pdf").data)
    assert "Tax (0 %) $0.00" in body and "Total $110.00" in body


def test_billing_form_refuses_half_rows_and_no_method(login_as, billed):
    response = login_as("owner").post(
        "/admin/billing",
        {"tax_name": "HST", "tax_rate": "13", "fees-0-minutes": "60", "fees-1-fee": "10"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Accept at least one payment method." in page
    assert "Enter the price for this length." in page and "Enter the length in minutes." in page


def test_numbers_are_sequential_per_clinic(login_as, billed):
    days = [date(2026, 3, d) for d in (2, 3, 4)]
    visits = [f.make_visit(billed.patient, billed.therapist, signed=True, day=d) for d in days]
    f.make_fee_schedule(billed.other_clinic)
    other = f.make_visit(billed.other_patient, billed.other_therapist, signed=True)
    db.session.commit()
    numbers = [f.make_receipt(v).number for v in visits]
    assert numbers == [1, 2, 3]
    assert f.make_receipt(other).number == 1
    db.session.commit()


def test_reissue_prints_duplicate_with_original_number_and_date(login_as, billed):
    c = login_as("front_desk")
    _issue(c, billed.visit)
    [receipt] = _receipts()
    first = c.post(f"/receipts/{receipt.id}/reissue", {"reason": "lost it"})
    assert first.headers["Location"] == f"/receipts/{receipt.id}/duplicates/1.pdf"
    second = c.post(f"/receipts/{receipt.id}/reissue", {"reason": ""})
    assert second.headers["Location"] == f"/receipts/{receipt.id}/duplicates/2.pdf"
    copies = list(db.session.scalars(select(ReceiptReissue).order_by(ReceiptReissue.copy_number)))
    assert [r.copy_number for r in copies] == [1, 2] and copies[0].reason == "lost it"
    assert copies[0].verification_code != receipt.verification_code
    data = c.get(first.headers["Location"]).data
    body = pdf_text(data)
    issued = services.local_date(receipt.issued_at)
    reissued = services.local_date(copies[0].reissued_at)
    assert "DUPLICATE" in body and "Receipt No. 000001" in body
    assert f"Date issued {issued:%B} {issued.day}, {issued.year}" in body
    assert f"Reissued {reissued:%B} {reissued.day}, {reissued.year}" in body
    payload = json.loads(attachments(data)["receipt.json"])
    assert payload["copy"] == "duplicate" and payload["status"] == "duplicate"
    assert payload["verification"]["code"] == copies[0].verification_code
    assert len(events("receipt:reissue")) == 2
    assert [e.details["copy"] for e in events("receipt:print")] == [1]
    assert c.get(f"/receipts/{receipt.id}/duplicates/3.pdf").status_code == 404
    assert len(_receipts()) == 1  # a reprint is never a new receipt


def test_void_keeps_the_receipt_and_a_corrected_one_is_issued(login_as, billed):
    c = login_as("owner")
    _issue(c, billed.visit, payment_method="cash")
    [wrong] = _receipts()
    assert c.post(f"/receipts/{wrong.id}/void", {"reason": ""}).status_code == 302
    assert _receipts()[0].void is None  # a reason is required
    c.post(f"/receipts/{wrong.id}/void", {"reason": "Paid by debit, not cash"})
    again = c.post(f"/receipts/{wrong.id}/void", {"reason": "twice"})
    assert "already void" in c.get(again.headers["Location"]).get_data(as_text=True)
    _issue(c, billed.visit, payment_method="debit")
    old, new = _receipts(billed.visit.id)
    assert old.is_void and old.void.reason == "Paid by debit, not cash"
    assert new.number == 2 and new.supersedes_id == old.id and not new.is_void
    body = pdf_text(c.get(f"/receipts/{old.id}/receipt.pdf").data)
    assert "VOID" in body and "Paid by debit, not cash" in body
    assert c.post(f"/receipts/{old.id}/reissue", {}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ReceiptReissue)) == 0
    [event] = events("receipt:void")
    assert event.details == {"number": 1, "reason": "Paid by debit, not cash"}
    assert event.patient_id == billed.patient.id


def test_only_the_owner_voids(login_as, billed):
    receipt = f.make_receipt(billed.visit)
    db.session.commit()
    for role in ("therapist", "front_desk"):
        response = login_as(role).post(f"/receipts/{receipt.id}/void", {"reason": "x"})
        assert response.status_code == 403
    assert _receipts()[0].void is None


def test_issued_receipts_refuse_the_orm(billed):
    receipt = f.make_receipt(billed.visit)
    db.session.commit()
    receipt.fee_cents = 1
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(ImmutableRecordError):
        db.session.delete(receipt)
        db.session.flush()
    db.session.rollback()
    copy = services.reissue(receipt, billed.owner)
    db.session.commit()
    copy.reason = "changed"
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()


def test_issued_receipts_refuse_raw_sql(billed):
    """Triggers (PostgreSQL and SQLite) refuse what bypasses the app."""
    receipt = f.make_receipt(billed.visit)
    services.reissue(receipt, billed.owner)
    services.void(receipt, billed.owner, "test")
    db.session.commit()
    for statement in (
        "UPDATE receipts SET total_cents = 1",
        "DELETE FROM receipts",
        "UPDATE receipt_reissues SET reason = 'x'",
        "DELETE FROM receipt_voids",
    ):
        with pytest.raises(DBAPIError, match=r"cannot|append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    draft = f.make_visit(billed.patient, billed.therapist, day=date(2026, 4, 1))
    db.session.commit()
    columns = [
        c.key for c in Receipt.__table__.columns if c.key not in {"id", "visit_id", "number"}
    ]
    with pytest.raises(DBAPIError, match="receipt refused"):
        db.session.execute(
            text(
                f"INSERT INTO receipts (visit_id, number, {', '.join(columns)}) "
                f"SELECT :visit, 77, {', '.join(columns)} FROM receipts WHERE id = :id"
            ),
            {"visit": draft.id, "id": receipt.id},
        )
    db.session.rollback()


def test_front_desk_reissues_but_never_reads_clinical_notes(login_as, billed):
    receipt = f.make_receipt(billed.visit)
    db.session.commit()
    desk = login_as("front_desk")
    assert desk.get(f"/visits/{billed.visit.id}").status_code == 403
    for path in (f"/receipts/{receipt.id}", f"/visits/{billed.visit.id}/receipts"):
        page = desk.get(path).get_data(as_text=True)
        assert "Neck pain" not in page and "Tension-type headache" not in page
    assert desk.post(f"/receipts/{receipt.id}/reissue", {}).status_code == 302
    assert desk.get(f"/patients/{billed.patient.id}/summary").status_code == 403


def test_chart_lists_receipts_and_visits_waiting_for_one(login_as, billed):
    waiting = f.make_visit(billed.patient, billed.therapist, signed=True, day=date(2026, 3, 20))
    receipt = f.make_receipt(billed.visit)
    db.session.commit()
    page = login_as("front_desk").get(f"/patients/{billed.patient.id}").get_data(as_text=True)
    assert 'id="receipts-h"' in page
    assert f"/receipts/{receipt.id}" in page and "000001" in page and "$135.60" in page
    assert f"/visits/{waiting.id}/receipts" in page
    assert f"/visits/{billed.visit.id}/receipts" not in page


def test_receipt_page_view_is_audited(login_as, billed):
    receipt = f.make_receipt(billed.visit)
    db.session.commit()
    page = login_as("therapist").get(f"/receipts/{receipt.id}").get_data(as_text=True)
    assert "Receipt 000001" in page and "Print a duplicate" in page
    assert "Void receipt" not in page  # only the owner voids
    [event] = events("receipt:view")
    assert event.subject_id == receipt.id and event.patient_id == billed.patient.id


def test_treatment_summary_covers_signed_visits_only(login_as, billed):
    f.make_visit(
        billed.patient,
        billed.therapist,
        day=date(2026, 3, 21),
        chief_complaint="DRAFT COMPLAINT NOT SIGNED",
    )
    f.make_visit(
        billed.patient,
        billed.therapist2,
        signed=True,
        day=date(2026, 3, 28),
        pain_before=5,
        pain_after=2,
        home_care="Chin tucks twice a day",
    )
    db.session.commit()
    c = login_as("therapist")
    response = c.post(
        f"/patients/{billed.patient.id}/summary",
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "send": "download"},
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = pdf_text(response.data)
    for field in (
        "Treatment summary",
        "Ada Lovelace",
        "March 14, 2026",
        "March 28, 2026",
        "60 minutes",
        "Theo Therapist, RMT",
        "Tess Second, RMT",
        "Neck pain with afternoon headaches",
        "Tension-type headache with cervical myofascial involvement",
        "Chin tucks twice a day",
        "6 → 3 / 10",
        "5 → 2 / 10",
        "Signed by Theo Therapist",
        "Before treatment (solid)",  # the NPRS trend chart's legend
    ):
        assert field in body, field
    assert "DRAFT COMPLAINT" not in body
    payload = json.loads(attachments(response.data)["summary.json"])
    assert [v["date"] for v in payload["visits"]] == ["2026-03-14", "2026-03-28"]
    [event] = events("summary:print")
    assert event.patient_id == billed.patient.id and len(event.details["visits"]) == 2
    empty = c.post(
        f"/patients/{billed.patient.id}/summary",
        {"date_from": "2025-01-01", "date_to": "2025-01-31", "send": "download"},
    )
    assert empty.status_code == 422 and "no signed visits" in empty.get_data(as_text=True)


def test_summary_draws_the_pain_trend_as_an_image_and_prints_every_score_as_text(login_as, billed):
    f.make_visit(
        billed.patient, billed.therapist2, signed=True, day=date(2026, 3, 28),
        pain_before=5, pain_after=2,
    )  # fmt: skip
    db.session.commit()
    response = login_as("therapist").post(
        f"/patients/{billed.patient.id}/summary",
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "send": "download"},
    )
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.data))
    sizes = [image.image.size for page in reader.pages for image in page.images]
    assert (960, 315) in sizes  # the chart (app.charts.pain_trend_png), beside the QR code
    body = pdf_text(response.data)
    for field in (
        "Chief complaint Neck pain with afternoon headaches",  # label and value apart
        "Assessment / clinical",  # the label wraps in its column
        "Pain before → after 6 → 3 / 10",
        "Pain before → after 5 → 2 / 10",
        "Home care",
        "Before treatment (solid)",
        "After treatment (dashed)",
    ):
        assert field in body, field
    # Every value starts at the same x, whether its label ends with a tab (one line) or is
    # an inline-block (the label that wraps).
    bbox = subprocess.run(
        ["pdftotext", "-bbox", "-", "-"], input=response.data, capture_output=True, check=True
    ).stdout.decode()
    lines: dict[tuple[int, str], list[tuple[float, str]]] = {}
    for page, markup in enumerate(bbox.split("<page ")):
        for x, y, word in re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)<', markup):
            lines.setdefault((page, y), []).append((float(x), word))
    labels = (
        "Chief complaint",
        "Assessment / clinical",
        "Protocols applied",
        "Pain before → after",
    )
    starts = []
    for words in lines.values():
        text_ = " ".join(w for _, w in words)
        label = next((k for k in labels if text_.startswith(k + " ")), None)
        if label:
            starts.append(round(words[len(label.split())][0], 1))
    assert len(starts) == 8 and len(set(starts)) == 1, starts  # 2 visits x 4 labels


def test_summary_lists_applied_protocol_titles(login_as, billed):
    from app.models import AppliedProtocol

    visit = f.make_visit(billed.patient, billed.therapist, day=date(2026, 3, 22))
    db.session.add(
        AppliedProtocol(
            visit_id=visit.id,
            protocol_id="tp-upper-trapezius",
            content_version="v1",
            title="Upper trapezius trigger point release",
            category="trigger_point",
            added_by_id=billed.therapist.id,
        )
    )
    db.session.flush()
    db.session.execute(text("UPDATE visits SET status = 'signed' WHERE id = :id"), {"id": visit.id})
    db.session.commit()
    response = login_as("owner").post(
        f"/patients/{billed.patient.id}/summary",
        {"date_from": "2026-03-22", "date_to": "2026-03-22", "send": "download"},
    )
    assert "Upper trapezius trigger point release" in pdf_text(response.data)


def test_year_end_statement_lists_valid_receipts_with_totals(login_as, billed):
    second = f.make_visit(billed.patient, billed.therapist, signed=True, day=date(2026, 3, 21))
    third = f.make_visit(billed.patient, billed.therapist, signed=True, day=date(2026, 3, 22))
    f.make_receipt(billed.visit)
    f.make_receipt(second, payment_method="gift_certificate")
    voided = f.make_receipt(third)
    services.void(voided, billed.owner, "duplicate entry")
    db.session.commit()
    year = services.local_date(utcnow()).year
    c = login_as("front_desk")
    assert str(year) in c.get(f"/patients/{billed.patient.id}/statement").get_data(as_text=True)
    response = c.post(
        f"/patients/{billed.patient.id}/statement", {"year": str(year), "send": "download"}
    )
    assert response.status_code == 200
    body = pdf_text(response.data)
    assert f"Statement {year}" in body and "Ada Lovelace" in body
    assert "000001" in body and "000002" in body and "000003" not in body
    assert f"Totals for {year} $120.00 $15.60 $135.60" in body
    [event] = events("statement:print")
    assert event.details["receipts"] == [1, 2] and event.patient_id == billed.patient.id
    none = c.post(
        f"/patients/{billed.patient.id}/statement", {"year": str(year - 5), "send": "download"}
    )
    assert none.status_code in (200, 422)  # not a choice, or no receipts: never a PDF
    assert none.mimetype == "text/html"
