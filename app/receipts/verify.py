"""The public answer to ``/verify/<code>``: is this document genuine, void or a duplicate?

Only what the document itself shows in brief: the clinic, the date(s) of service,
the amount, and the RMT's name and registration number. Nothing else about the
patient, not even their name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import Clinic, Patient, Receipt, ReceiptReissue, TreatmentSummary
from app.receipts.services import local_date

GENUINE, VOID, DUPLICATE = "genuine", "void", "duplicate"


@dataclass
class Verification:
    kind: str  # "receipt" | "summary"
    status: str  # genuine | void | duplicate
    clinic: str
    service_dates: tuple[date, ...]
    therapists: list[tuple[str, str]] = field(default_factory=list)  # (name, registration)
    amount_cents: int | None = None
    reissued_on: date | None = None
    voided_on: date | None = None


def lookup(code: str) -> Verification | None:
    """Find the receipt, duplicate or summary carrying ``code``; audit the look-up."""
    if not code or len(code) > 64:
        return None
    if receipt := db.session.scalar(select(Receipt).where(Receipt.verification_code == code)):
        return _receipt(receipt, None)
    if copy := db.session.scalar(
        select(ReceiptReissue).where(ReceiptReissue.verification_code == code)
    ):
        return _receipt(copy.receipt, copy)
    if summary := db.session.scalar(
        select(TreatmentSummary).where(TreatmentSummary.verification_code == code)
    ):
        return _summary(summary)
    return None


def _receipt(receipt: Receipt, copy: ReceiptReissue | None) -> Verification:
    status = VOID if receipt.is_void else DUPLICATE if copy else GENUINE
    audit.record(
        Action.RECEIPT_VERIFY, receipt, actor=None, patient=db.session.get(Patient, receipt.patient_id),
        status=status, copy=copy.copy_number if copy else "original",
    )  # fmt: skip
    return Verification(
        kind="receipt",
        status=status,
        clinic=receipt.clinic_name,
        service_dates=(receipt.service_date,),
        therapists=[
            (
                f"{receipt.therapist_name}, {receipt.therapist_designation}",
                receipt.therapist_registration_number,
            )
        ],
        amount_cents=receipt.total_cents,
        reissued_on=local_date(copy.reissued_at) if copy else None,
        voided_on=local_date(receipt.void.voided_at) if receipt.void else None,
    )


def _summary(summary: TreatmentSummary) -> Verification:
    clinic = db.session.get(Clinic, summary.clinic_id)
    audit.record(
        Action.SUMMARY_VERIFY, summary, actor=None,
        patient=db.session.get(Patient, summary.patient_id),
    )  # fmt: skip
    dates = tuple(d for d in (summary.first_service, summary.last_service) if d)
    return Verification(
        kind="summary",
        status=GENUINE,
        clinic=clinic.name if clinic else "",
        service_dates=tuple(dict.fromkeys(dates)),
        therapists=[
            (f"{t['name']}, {t['designation']}", t["registration_number"])
            for t in summary.therapists
        ],
    )
