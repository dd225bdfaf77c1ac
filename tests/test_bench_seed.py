"""The benchmark data generator: a tiny chain, checked like real data."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import audit_chain
from app.auth.services import authenticate
from app.bench.seed import BENCH_PASSWORD, SeedRefused, seed
from app.extensions import db
from app.models import (
    AppliedProtocol,
    AuditEvent,
    Clinic,
    HealthHistory,
    Patient,
    Receipt,
    ReceiptCounter,
    User,
    Visit,
)
from tests import factories as f


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_builds_a_consistent_chain(app: Flask) -> None:
    report = seed(60, clinics=2, therapists=3, patients=8, batch=25, quiet=True)

    assert report.counts["visits"] == count(Visit) == 60
    assert count(Clinic) == 2 and count(Patient) == 8
    assert count(User) == 2 * 2 + 3  # an owner and a front desk per clinic, the therapists
    assert count(HealthHistory) >= 8
    assert count(AppliedProtocol) >= 60
    statuses = set(db.session.scalars(select(Visit.status).distinct()))
    assert statuses == {"signed"}
    assert db.session.scalar(select(func.count()).where(Visit.signed_at.is_(None))) == 0

    receipts = list(db.session.scalars(select(Receipt).order_by(Receipt.clinic_id, Receipt.number)))
    assert receipts
    for clinic_id in (1, 2):
        numbers = [r.number for r in receipts if r.clinic_id == clinic_id]
        assert numbers == list(range(1, len(numbers) + 1))  # gapless, from 1
        counter = db.session.get(ReceiptCounter, clinic_id)
        assert counter is not None and counter.last_number == len(numbers)
        issued = [r.issued_at for r in receipts if r.clinic_id == clinic_id]
        assert all(a < b for a, b in pairwise(issued))  # numbered in the order issued
    for receipt in receipts:
        visit = db.session.get(Visit, receipt.visit_id)
        assert (receipt.clinic_id, receipt.patient_id, receipt.therapist_id) == (
            visit.clinic_id, visit.patient_id, visit.therapist_id,
        )  # fmt: skip
        assert receipt.service_date == visit.local_start.date()

    assert count(AuditEvent) > 60
    for chain_id in audit_chain.chains(db.session()):
        assert audit_chain.verify(db.session(), chain_id).ok
    therapist = db.session.scalar(select(User).where(User.role == "therapist").limit(1))
    assert authenticate(therapist.email, BENCH_PASSWORD) is not None


def test_seeded_database_takes_new_records(app: Flask) -> None:
    """Sequences (PostgreSQL) and counters continue after the bulk load."""
    seed(20, clinics=1, therapists=1, patients=3, batch=10, quiet=True)
    clinic = db.session.get(Clinic, 1)
    patient = f.make_patient(clinic)
    assert patient.id == 4
    db.session.commit()


def test_seed_refuses_a_database_with_data(app: Flask) -> None:
    f.make_clinic()
    db.session.commit()
    with pytest.raises(SeedRefused):
        seed(10, quiet=True)
