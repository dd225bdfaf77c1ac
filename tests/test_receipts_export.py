"""Bulk export (CLI and web) and gapless numbering under concurrent issuing."""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from datetime import date, timedelta

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent, Receipt, Visit, utcnow
from app.receipts import services
from tests import factories as f
from tests.conftest import base_config


def _today() -> date:
    return services.local_date(utcnow())


@pytest.fixture
def issued(world) -> list[Receipt]:
    """Four receipts in clinic A (one void, one replacement) and one in clinic B."""
    f.make_fee_schedule(world.clinic)
    f.make_fee_schedule(world.other_clinic)
    visits = [
        f.make_visit(world.patient, world.therapist, signed=True, day=date(2026, 3, d))
        for d in (2, 3, 4)
    ]
    receipts = [f.make_receipt(v) for v in visits]
    services.void(receipts[1], world.owner, "wrong method")
    receipts.append(f.make_receipt(visits[1], payment_method="cash"))
    other = f.make_visit(world.other_patient, world.other_therapist, signed=True)
    f.make_receipt(other)
    db.session.commit()
    return receipts


def _read_zip(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    rows = list(csv.DictReader(io.StringIO(archive.read("receipts.csv").decode())))
    for name in archive.namelist():
        if name.endswith(".pdf"):
            assert PdfReader(io.BytesIO(archive.read(name))).pages
    return sorted(archive.namelist()), rows


@pytest.mark.parametrize("workers", [1, 2])
def test_cli_export_writes_pdfs_and_csv(app: Flask, world, issued, tmp_path, workers):
    out = tmp_path / "export.zip"
    today = _today()
    result = app.test_cli_runner().invoke(
        args=[
            "receipts", "export", "--from", (today - timedelta(days=1)).isoformat(),
            "--to", today.isoformat(), "--clinic", str(world.clinic.id), "--out", str(out),
            "--workers", str(workers),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 4 receipts (1 void)" in result.output
    names, rows = _read_zip(out.read_bytes())
    assert names == [
        "receipts.csv",
        "receipts/receipt-000001.pdf",
        "receipts/receipt-000002.pdf",
        "receipts/receipt-000003.pdf",
        "receipts/receipt-000004.pdf",
    ]
    assert [(r["receipt_number"], r["status"]) for r in rows] == [
        ("000001", "issued"),
        ("000002", "VOID"),
        ("000003", "issued"),
        ("000004", "issued"),
    ]
    # In number order in the zip too, whichever process rendered each (this one and a
    # worker process with two workers), the list last.
    assert zipfile.ZipFile(out).namelist() == names[1:] + names[:1]
    assert rows[1]["void_reason"] == "wrong method" and rows[3]["supersedes"] == str(issued[1].id)
    assert rows[0]["patient"] == "Ada Lovelace" and rows[0]["total"] == "135.60"
    assert rows[3]["payment_method"] == "Cash" and rows[0]["service_date"] == "2026-03-02"
    exported = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "receipt:export")
    ).all()
    assert len(exported) == 5  # one for the export, one per receipt (with its patient)
    assert {e.patient_id for e in exported if e.subject_id} == {world.patient.id}


def test_cli_export_needs_a_clinic_when_there_are_several(app: Flask, issued):
    result = app.test_cli_runner().invoke(
        args=["receipts", "export", "--from", "2026-01-01", "--to", "2026-01-31"]
    )
    assert result.exit_code == 2 and "--clinic" in result.output


def test_owner_downloads_the_export_from_the_web(login_as, world, issued):
    c = login_as("owner")
    form = c.get("/admin/billing/export").get_data(as_text=True)
    assert "Download zip" in form
    today = _today().isoformat()
    response = c.post("/admin/billing/export", {"date_from": today, "date_to": today})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    names, rows = _read_zip(response.data)
    response.close()  # what the WSGI server does: closes the spooled zip
    assert len(rows) == 4 and len(names) == 5
    assert login_as("front_desk").post("/admin/billing/export", {}).status_code == 403
    summary = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "receipt:export", AuditEvent.subject_id.is_(None)
        )
    )
    assert summary.actor_id == world.owner.id and summary.details["count"] == 4


@pytest.mark.postgresql_only
def test_fifty_concurrent_issuers_get_fifty_gapless_numbers(world, database_url, tmp_path):
    # An app whose pool lets all 50 issuers hold a connection at the same moment.
    app = create_app(
        {
            **base_config(database_url, tmp_path),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 50, "max_overflow": 5},
        }
    )
    f.make_fee_schedule(world.clinic)
    start = date(2026, 1, 1)
    visit_ids = [
        f.make_visit(world.patient, world.therapist, signed=True, day=start + timedelta(days=i)).id
        for i in range(50)
    ]
    db.session.commit()
    db.session.remove()
    barrier = threading.Barrier(50)
    errors: list[BaseException] = []

    def issue(visit_id: int) -> None:
        with app.app_context():  # each thread: its own context and session
            try:
                visit = db.session.get(Visit, visit_id)
                barrier.wait(timeout=60)
                services.issue_receipt(
                    visit, visit.therapist, fee_cents=12000, payment_method="debit"
                )
                db.session.commit()
            except BaseException as exc:
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=issue, args=(v,)) for v in visit_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with app.app_context():
        db.engine.dispose()
    assert errors == []
    numbers = sorted(db.session.scalars(select(Receipt.number)))
    assert numbers == list(range(1, 51))
    assert db.session.scalar(select(func.count(func.distinct(Receipt.visit_id)))) == 50


@pytest.mark.postgresql_only
def test_a_failed_issue_leaves_no_gap(app: Flask, world):
    f.make_fee_schedule(world.clinic)
    first = f.make_visit(world.patient, world.therapist, signed=True, day=date(2026, 1, 1))
    second = f.make_visit(world.patient, world.therapist, signed=True, day=date(2026, 1, 2))
    db.session.commit()
    f.make_receipt(first)
    db.session.rollback()  # the issue fails after taking number 1
    f.make_receipt(second)
    db.session.commit()
    assert list(db.session.scalars(select(Receipt.number))) == [1]
