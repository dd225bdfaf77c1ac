"""The per-RMT billing report: receipts issued under each registration number, with totals.

For the RMT's own check (a therapist sees only their own) and for the owner (all).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Receipt, ReceiptVoid, User
from app.receipts.services import PAYMENT_METHODS, local_date, utc_bounds


@dataclass
class BillingReport:
    receipts: list[Any]
    totals: list[Any]
    shown: int
    total_receipts: int


def _billing_filter(
    stmt: Select[Any], clinic_id: int, first: date, last: date, therapist_id: int | None
) -> Select[Any]:
    start, end = utc_bounds(first, last)
    stmt = stmt.where(
        Receipt.clinic_id == clinic_id, Receipt.issued_at >= start, Receipt.issued_at < end
    )
    if therapist_id is not None:
        stmt = stmt.where(Receipt.therapist_id == therapist_id)
    return stmt


def billing_receipts(
    clinic_id: int, first: date, last: date, therapist_id: int | None, limit: int | None = None
) -> list[Any]:
    """Receipts issued ``first``..``last`` (clinic calendar), with a void flag, by number."""
    stmt = select(
        Receipt.id,
        Receipt.number,
        Receipt.issued_at,
        Receipt.service_date,
        Receipt.duration_minutes,
        Receipt.patient_name,
        Receipt.therapist_id,
        Receipt.therapist_name,
        Receipt.therapist_designation,
        Receipt.therapist_registration_number,
        Receipt.fee_cents,
        Receipt.tax_cents,
        Receipt.total_cents,
        Receipt.paid_cents,
        Receipt.payment_method,
        ReceiptVoid.id.is_not(None).label("void"),
    ).outerjoin(ReceiptVoid, ReceiptVoid.receipt_id == Receipt.id)
    stmt = _billing_filter(stmt, clinic_id, first, last, therapist_id).order_by(
        Receipt.therapist_registration_number, Receipt.number
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt).all())


def billing_totals(clinic_id: int, first: date, last: date, therapist_id: int | None) -> list[Any]:
    """Per registration number: receipts, void ones, and fee, tax and total of the valid ones."""
    valid = ReceiptVoid.id.is_(None)

    def valid_sum(column: Any) -> Any:
        return func.coalesce(func.sum(column).filter(valid), 0)

    stmt = (
        select(
            Receipt.therapist_registration_number.label("registration_number"),
            func.max(Receipt.therapist_name).label("therapist_name"),
            func.count(Receipt.id).label("receipts"),
            func.count(ReceiptVoid.id).label("void"),
            valid_sum(Receipt.fee_cents).label("fee_cents"),
            valid_sum(Receipt.tax_cents).label("tax_cents"),
            valid_sum(Receipt.total_cents).label("total_cents"),
        )
        .outerjoin(ReceiptVoid, ReceiptVoid.receipt_id == Receipt.id)
        .group_by(Receipt.therapist_registration_number)
        .order_by(Receipt.therapist_registration_number)
    )
    return list(db.session.execute(_billing_filter(stmt, clinic_id, first, last, therapist_id)))


def billing_report(
    clinic_id: int, first: date, last: date, therapist_id: int | None, limit: int = 1000
) -> BillingReport:
    """The page: the receipts (at most ``limit``) and the totals of all of them."""
    rows = billing_receipts(clinic_id, first, last, therapist_id, limit)
    totals = billing_totals(clinic_id, first, last, therapist_id)
    return BillingReport(rows, totals, len(rows), sum(t.receipts for t in totals))


def clinic_therapists(clinic_id: int) -> list[User]:
    """Everyone in the clinic who has a registration number (active or not)."""
    stmt = (
        select(User)
        .where(User.clinic_id == clinic_id, User.registration_number != "")
        .order_by(User.full_name)
    )
    return list(db.session.scalars(stmt))


CSV_FIELDS = [
    "registration_number", "therapist", "receipt_number", "status", "issued_on",
    "service_date", "minutes", "patient", "fee", "tax", "total", "payment_method",
]  # fmt: skip


def billing_csv(rows: list[Any]) -> str:
    """The report's receipts as CSV text, one line per receipt."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {
                "registration_number": r.therapist_registration_number,
                "therapist": f"{r.therapist_name}, {r.therapist_designation}",
                "receipt_number": f"{r.number:06d}",
                "status": "VOID" if r.void else "issued",
                "issued_on": local_date(r.issued_at).isoformat(),
                "service_date": r.service_date.isoformat(),
                "minutes": r.duration_minutes,
                "patient": r.patient_name,
                "fee": f"{r.fee_cents / 100:.2f}",
                "tax": f"{r.tax_cents / 100:.2f}",
                "total": f"{r.total_cents / 100:.2f}",
                "payment_method": PAYMENT_METHODS.get(r.payment_method, r.payment_method),
            }
        )
    return out.getvalue()
