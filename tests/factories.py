"""Plain factory functions. Each adds to the session and flushes; tests commit."""

from __future__ import annotations

from datetime import date, time
from itertools import count
from typing import Any

from app.extensions import db
from app.models import (
    CONSENT_ELEMENTS,
    SIGNED,
    AppliedProtocol,
    Clinic,
    Consent,
    HealthHistory,
    Location,
    Patient,
    Role,
    User,
    Visit,
    utcnow,
)
from app.security import hash_password

PASSWORD = "correct horse battery staple"
_HASH = hash_password(PASSWORD)  # hashed once: Argon2 is slow on purpose
_seq = count(1)


def make_clinic(name: str = "Harbour Massage Therapy", **kw: Any) -> Clinic:
    clinic = Clinic(
        name=name,
        address=kw.pop("address", "1 Harbour Street, Toronto, ON M5J 1A1"),
        phone=kw.pop("phone", "416-555-0199"),
        **kw,
    )
    db.session.add(clinic)
    db.session.flush()
    return clinic


def make_location(clinic: Clinic, name: str = "Main", **kw: Any) -> Location:
    location = Location(
        clinic_id=clinic.id, name=name, address=kw.pop("address", "1 Main St"), **kw
    )
    db.session.add(location)
    db.session.flush()
    return location


def make_user(clinic: Clinic, role: Role | str = Role.THERAPIST, **kw: Any) -> User:
    n = next(_seq)
    role = Role(role)
    defaults: dict[str, Any] = {
        "email": f"{role.value}{n}@clinic{clinic.id}.test",
        "full_name": f"{role.label} Person {n}",
        "password_hash": _HASH,
    }
    if role is Role.THERAPIST:
        defaults.update(designation="RMT", registration_number=f"U{1000 + n}")
    user = User(clinic_id=clinic.id, role=role.value, **{**defaults, **kw})
    db.session.add(user)
    db.session.flush()
    return user


def make_patient(clinic: Clinic, **kw: Any) -> Patient:
    n = next(_seq)
    defaults: dict[str, Any] = {
        "given_name": "Pat",
        "family_name": f"Example{n}",
        "date_of_birth": date(1980, 1, 1),
        "phone": f"416-555-{n % 10000:04d}",
    }
    patient = Patient(clinic_id=clinic.id, **{**defaults, **kw})
    db.session.add(patient)
    db.session.flush()
    return patient


def make_history(
    patient: Patient, by: User, conditions: list[str] | None = None, **kw: Any
) -> HealthHistory:
    version = (patient.histories.count() or 0) + 1
    entry = HealthHistory(
        patient_id=patient.id,
        version=version,
        recorded_by_id=by.id,
        conditions=conditions or [],
        **kw,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def make_consent(patient: Patient, by: User, **kw: Any) -> Consent:
    consent = Consent(
        patient_id=patient.id,
        given_on=kw.pop("given_on", date.today()),
        elements=kw.pop("elements", sorted(CONSENT_ELEMENTS)),
        recorded_by_id=by.id,
        **kw,
    )
    db.session.add(consent)
    db.session.flush()
    return consent


def make_visit(
    patient: Patient,
    therapist: User,
    *,
    day: date | None = None,
    start: time = time(10, 0),
    minutes: int = 60,
    signed: bool = False,
    applied: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> Visit:
    """A visit; with ``signed=True`` a complete, signed note (inserted already signed)."""
    visit = Visit(
        clinic_id=patient.clinic_id, patient_id=patient.id, therapist_id=therapist.id, **kw
    )
    visit.set_schedule(day or date.today(), start, minutes)
    if signed:
        defaults = {
            "chief_complaint": "Neck pain with afternoon headaches",
            "pain_before": 6,
            "pain_after": 3,
            "posture": "Forward head posture",
            "palpation": "Hypertonic upper trapezius bilaterally",
            "clinical_impression": "Tension-type headache with cervical myofascial involvement",
            "treatment_response": "Reduced tension, improved rotation",
            "home_care": "Heat 15 minutes; chin tucks 10 x 3 daily",
            "body_marks": [
                {"region": "neck_posterior", "side": "both", "kind": "treated", "intensity": 0}
            ],
            "treatment_notes": "Swedish warm-up, trigger point release upper trapezius",
        }
        for key, value in defaults.items():
            if key not in kw:
                setattr(visit, key, value)
    for position, row in enumerate(applied or []):
        visit.applied.append(
            AppliedProtocol(
                position=position, added_by_id=therapist.id, content_version="1-test", **row
            )
        )
    db.session.add(visit)
    db.session.flush()
    if signed:  # signed the way the app signs: a draft that becomes signed
        visit.status = SIGNED
        visit.signed_at = utcnow()
        visit.signed_by_id = therapist.id
        db.session.flush()
    return visit


def make_fee_schedule(clinic: Clinic, fees: dict[int, int] | None = None) -> None:
    """The clinic's fee schedule (minutes -> cents), HST 13 % and every payment method."""
    from app.models import PAYMENT_METHODS, BillingSettings, FeeScheduleItem

    db.session.merge(
        BillingSettings(
            clinic_id=clinic.id,
            tax_name="HST",
            tax_rate_bp=1300,
            payment_methods=list(PAYMENT_METHODS),
        )
    )
    for minutes, cents in (fees or {30: 7000, 45: 9500, 60: 12000, 75: 14500, 90: 16500}).items():
        db.session.add(FeeScheduleItem(clinic_id=clinic.id, minutes=minutes, fee_cents=cents))
    db.session.flush()


def make_receipt(visit: Visit, by: User | None = None, **kw: Any) -> Any:
    """Issue the receipt of a signed visit through the service (numbers, snapshot, audit)."""
    from app.receipts.services import issue_receipt, scheduled_fee

    fee = kw.pop("fee_cents", None)
    if fee is None:
        fee = scheduled_fee(visit.clinic_id, visit.duration_minutes)
    return issue_receipt(
        visit,
        by or visit.therapist,
        fee_cents=12000 if fee is None else fee,
        payment_method=kw.pop("payment_method", "debit"),
        reason=kw.pop("reason", "" if fee is not None else "test fee"),
    )


# Oversight (issue 6) ---------------------------------------------------------


def make_visit_at(patient: Patient, therapist: User, start: Any, minutes: int = 60, **kw: Any):
    """A visit starting at the naive local datetime ``start``."""
    return make_visit(
        patient, therapist, day=start.date(), start=start.time(), minutes=minutes, **kw
    )


def make_amendment(visit: Visit, by: User, created_at: Any = None, **kw: Any) -> Any:
    """An amendment of a signed note, optionally dated (UTC-aware ``created_at``)."""
    from app.models import Amendment

    amendment = Amendment(
        visit_id=visit.id,
        author_id=by.id,
        reason=kw.pop("reason", "Late entry"),
        text=kw.pop("text", "Patient reported improved sleep."),
        **({"created_at": created_at} if created_at else {}),
        **kw,
    )
    db.session.add(amendment)
    db.session.flush()
    return amendment


def make_portal_user(patient: Patient, **kw: Any) -> User:
    """A patient-portal account linked to ``patient`` (password: PASSWORD)."""
    from app.models import Clinic

    clinic = db.session.get(Clinic, patient.clinic_id)
    defaults: dict[str, Any] = {
        "email": f"portal{next(_seq)}@patients.test",
        "full_name": patient.full_name,
        "patient_id": patient.id,
    }
    return make_user(clinic, Role.PATIENT, **{**defaults, **kw})


def make_record_request(patient: Patient, by: User, **kw: Any) -> Any:
    """A patient's request for a copy of the record, made through the portal service."""
    from app.portal.services import request_record

    return request_record(patient, by, kw.pop("note", ""))
