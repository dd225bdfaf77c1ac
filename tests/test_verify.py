"""The public /verify/<code> page: genuine, duplicate, void, unknown; no patient data."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.receipts import services
from app.receipts.documents import create_summary
from tests import factories as f
from tests.conftest import Client

# What the page may never show: the patient's name, birth date, contact details,
# clinical content, the fee reason or the receipt's internal ids.
PRIVATE = (
    "Ada",
    "Lovelace",
    "1980",
    "416-555-0",
    "Neck pain",
    "Tension-type",
    "Heat 15 minutes",
    "Warfarin",
    "lost it",
)


@pytest.fixture
def documents(world):
    f.make_fee_schedule(world.clinic)
    visit = f.make_visit(world.patient, world.therapist, signed=True, day=date(2026, 3, 14))
    second = f.make_visit(world.patient, world.therapist, signed=True, day=date(2026, 3, 21))
    receipt = f.make_receipt(visit)
    copy = services.reissue(receipt, world.desk, "lost it")
    voided = f.make_receipt(second)
    services.void(voided, world.owner, "wrong amount")
    summary, _ = create_summary(
        world.patient, date(2026, 3, 1), date(2026, 3, 31), actor=world.therapist
    )
    db.session.commit()
    return {"receipt": receipt, "copy": copy, "voided": voided, "summary": summary}


def _page(app, code: str):
    response = Client(app.test_client()).get(f"/verify/{code}")
    text = response.get_data(as_text=True)
    main = text[text.index("<main") : text.index("</main>")]
    return response, re.sub(r"\s+", " ", main)


def _no_private_data(main: str) -> None:
    for secret in PRIVATE:
        assert secret not in main, secret


def test_genuine_receipt(app, world, documents):
    receipt = documents["receipt"]
    response, main = _page(app, receipt.verification_code)
    assert response.status_code == 200
    assert "Genuine receipt" in main and "Harbour Massage Therapy" in main
    assert "2026-03-14" in main and "$135.60" in main
    assert f"Theo Therapist, RMT · Registration No. {world.therapist.registration_number}" in main
    assert response.headers["X-Robots-Tag"] == "noindex"
    _no_private_data(main)
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "receipt:verify"))
    assert event.actor_id is None and event.patient_id == world.patient.id
    assert event.details == {"status": "genuine", "copy": "original"}


def test_duplicate_shows_the_reissue_date(app, documents):
    copy = documents["copy"]
    response, main = _page(app, copy.verification_code)
    assert response.status_code == 200
    reissued = services.local_date(copy.reissued_at).isoformat()
    assert "Genuine duplicate" in main and f"reissued on {reissued}" in main
    assert "$135.60" in main
    _no_private_data(main)


def test_void_receipt(app, documents):
    voided = documents["voided"]
    response, main = _page(app, voided.verification_code)
    assert response.status_code == 200
    assert "Void receipt" in main and "not valid for a claim" in main
    assert "2026-03-21" in main
    assert "wrong amount" not in main
    _no_private_data(main)


def test_a_duplicate_of_a_void_receipt_is_void(app, world, documents):
    receipt = documents["receipt"]
    services.void(receipt, world.owner, "test")
    db.session.commit()
    _, main = _page(app, documents["copy"].verification_code)
    assert "Void receipt" in main


def test_summary(app, world, documents):
    response, main = _page(app, documents["summary"].verification_code)
    assert response.status_code == 200
    assert "Genuine treatment summary" in main and "2026-03-14 to 2026-03-21" in main
    assert world.therapist.registration_number in main and "$" not in main
    _no_private_data(main)


@pytest.mark.parametrize("code", ["nope", "A" * 32, "x" * 200, "%27%20OR%201=1"])
def test_unknown_code(app, documents, code):
    response, main = _page(app, code)
    assert response.status_code == 404
    assert "Unknown code" in main and "Harbour" not in main


def test_codes_are_long_and_unique(documents):
    codes = [
        documents["receipt"].verification_code,
        documents["copy"].verification_code,
        documents["voided"].verification_code,
        documents["summary"].verification_code,
    ]
    assert len(set(codes)) == 4
    assert all(len(code) >= 22 for code in codes)  # token_urlsafe(24): 192 bits


def test_verify_is_rate_limited(app, documents):
    app.config["VERIFY_RATE_LIMIT"] = "3 per minute"
    client = Client(app.test_client())
    statuses = [client.get("/verify/unknown-code").status_code for _ in range(5)]
    assert statuses[:3] == [404, 404, 404] and statuses[3:] == [429, 429]
