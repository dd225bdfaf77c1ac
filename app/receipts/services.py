"""Billing logic: settings and fee schedule, issuing, reissuing and voiding receipts,
fees for missed visits. Services add and flush; the caller commits once.

Receipt numbers are gapless per clinic: the number is taken by incrementing the
clinic's counter row (``UPDATE … RETURNING``), which locks that row until the
transaction ends. A concurrent issuer waits; a rolled-back issue rolls the counter
back with it, so no number is ever skipped or used twice.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import (
    ATTENDED,
    GIFT_CERTIFICATE,
    PAYMENT_METHODS,
    SIGNED,
    BillingSettings,
    Clinic,
    FeeScheduleItem,
    MissedVisitFee,
    Patient,
    Receipt,
    ReceiptCounter,
    ReceiptReissue,
    ReceiptVoid,
    SignatureImage,
    User,
    Visit,
)
from app.oversight.retention import refuse_if_purged

SERVICE_DESCRIPTION = "Massage Therapy treatment – {minutes} minutes"
GIFT_REASON = "Redeemed by gift certificate: no amount payable"


class ReceiptRefused(ValueError):
    """The receipt action is not allowed; the message says why, for the user."""


# Money and time helpers -----------------------------------------------------


def to_cents(amount: Decimal | int | float | str) -> int:
    """Dollars to whole cents, rounding half up."""
    return int((Decimal(str(amount)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def money(cents: int | None) -> str:
    """Cents as a dollar amount, e.g. 13560 -> "$135.60"."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def tax_for(fee_cents: int, rate_bp: int) -> int:
    """Tax on ``fee_cents`` at ``rate_bp`` basis points, rounded half up to the cent."""
    return (fee_cents * rate_bp + 5000) // 10000


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_date(moment: datetime) -> date:
    """The clinic's calendar date of a UTC timestamp."""
    return moment.astimezone(clinic_zone()).date()


def utc_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants that bracket the clinic's calendar days ``first``..``last``."""
    zone = clinic_zone()
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)
    return start, end


def new_code() -> str:
    """An unguessable verification code (192 bits)."""
    return secrets.token_urlsafe(24)


# Settings and fee schedule --------------------------------------------------


def settings_for(clinic_id: int) -> BillingSettings:
    """The clinic's billing settings, created with the Ontario defaults on first use."""
    settings = db.session.get(BillingSettings, clinic_id)
    if settings is None:
        settings = BillingSettings(
            clinic_id=clinic_id,
            tax_name="HST",
            tax_rate_bp=1300,
            payment_methods=list(PAYMENT_METHODS),
        )
        db.session.add(settings)
        db.session.flush()
    return settings


def fee_schedule(clinic_id: int) -> list[FeeScheduleItem]:
    stmt = select(FeeScheduleItem).where(FeeScheduleItem.clinic_id == clinic_id)
    return list(db.session.scalars(stmt.order_by(FeeScheduleItem.minutes)))


def scheduled_fee(clinic_id: int, minutes: int) -> int | None:
    """The set price for a treatment of ``minutes``, or None when the schedule has none."""
    return db.session.scalar(
        select(FeeScheduleItem.fee_cents).where(
            FeeScheduleItem.clinic_id == clinic_id, FeeScheduleItem.minutes == minutes
        )
    )


def update_billing(
    clinic_id: int,
    *,
    tax_name: str,
    tax_rate_bp: int,
    payment_methods: list[str],
    fees: dict[int, int],
) -> list[str]:
    """Save tax, accepted payment methods and the fee schedule (minutes -> cents); audit it."""
    settings = settings_for(clinic_id)
    changed = []
    methods = [m for m in PAYMENT_METHODS if m in payment_methods]
    for name, value in (
        ("tax_name", tax_name),
        ("tax_rate_bp", tax_rate_bp),
        ("payment_methods", methods),
    ):
        if getattr(settings, name) != value:
            setattr(settings, name, value)
            changed.append(name)
    current = {item.minutes: item for item in fee_schedule(clinic_id)}
    if {m: i.fee_cents for m, i in current.items()} != fees:
        for minutes, item in current.items():
            if minutes not in fees:
                db.session.delete(item)
            elif item.fee_cents != fees[minutes]:
                item.fee_cents = fees[minutes]
        for minutes, cents in fees.items():
            if minutes not in current:
                db.session.add(
                    FeeScheduleItem(clinic_id=clinic_id, minutes=minutes, fee_cents=cents)
                )
        changed.append("fee_schedule")
    if changed:
        db.session.flush()
        audit.record(
            Action.BILLING_UPDATE, None, clinic_id=clinic_id, fields=changed,
            tax_rate_bp=tax_rate_bp, fees={str(m): c for m, c in sorted(fees.items())},
        )  # fmt: skip
    return changed


# Issuing ----------------------------------------------------------------------


def next_number(clinic_id: int) -> int:
    """Take the clinic's next receipt number; the counter row stays locked until commit."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(ReceiptCounter)
        .values(clinic_id=clinic_id, last_number=0)
        .on_conflict_do_nothing(index_elements=["clinic_id"])
    )
    return db.session.execute(
        update(ReceiptCounter)
        .where(ReceiptCounter.clinic_id == clinic_id)
        .values(last_number=ReceiptCounter.last_number + 1)
        .returning(ReceiptCounter.last_number)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def receipts_for_visit(visit: Visit) -> list[Receipt]:
    stmt = select(Receipt).where(Receipt.visit_id == visit.id).order_by(Receipt.id)
    return list(db.session.scalars(stmt.options(selectinload(Receipt.void))))


def live_receipt(visit: Visit) -> Receipt | None:
    """The visit's receipt that is not void, if any."""
    return next((r for r in receipts_for_visit(visit) if not r.is_void), None)


def refusal(visit: Visit) -> str | None:
    """Why ``visit`` cannot get a treatment receipt now (B5), or None when it can."""
    if visit.attendance != ATTENDED:
        kind = "cancelled" if visit.attendance == "cancelled" else "missed (no-show)"
        return f"This visit was {kind}: record a fee for it; a treatment receipt is never issued."
    if visit.status != SIGNED:
        return "The visit note is not signed yet. A receipt is issued only for a signed visit."
    if existing := live_receipt(visit):
        return (
            f"Receipt {existing.number_label} was already issued for this visit. Print a "
            "duplicate, or void it first if it is wrong."
        )
    therapist = visit.therapist
    if not (therapist.registration_number and therapist.designation):
        return (
            f"{therapist.full_name} has no designation or registration number on file; "
            "the clinic owner adds them under Staff."
        )
    return None


def _signature_snapshot(therapist: User) -> str | None:
    """Keep the signature as printed on this receipt (stored once per distinct image)."""
    if not therapist.signature_image:
        return None
    digest = hashlib.sha256(therapist.signature_image).hexdigest()
    if db.session.get(SignatureImage, digest) is None:
        db.session.add(
            SignatureImage(
                sha256=digest,
                image=therapist.signature_image,
                mimetype=therapist.signature_mimetype or "image/png",
            )
        )
    return digest


@dataclass
class Charge:
    """What the patient pays for one visit."""

    fee_cents: int
    tax_cents: int
    total_cents: int
    scheduled_fee_cents: int | None
    reason: str
    payment_method: str
    settings: BillingSettings = field(repr=False)


def price(visit: Visit, fee_cents: int, payment_method: str, reason: str = "") -> Charge:
    """Check the fee against the schedule and the method against the clinic's; add the tax."""
    settings = settings_for(visit.clinic_id)
    if payment_method not in settings.payment_methods:
        raise ReceiptRefused("The clinic does not accept that payment method.")
    if fee_cents < 0:
        raise ReceiptRefused("The fee cannot be negative.")
    scheduled = scheduled_fee(visit.clinic_id, visit.duration_minutes)
    reason = reason.strip()
    if payment_method == GIFT_CERTIFICATE:
        fee_cents, reason = 0, reason or GIFT_REASON
    elif fee_cents != scheduled and not reason:
        raise ReceiptRefused(
            "This fee departs from the clinic's fee schedule: record the reason."
            if scheduled is not None
            else f"The fee schedule has no price for {visit.duration_minutes} minutes: "
            "record the reason for this fee."
        )
    tax = tax_for(fee_cents, settings.tax_rate_bp)
    return Charge(fee_cents, tax, fee_cents + tax, scheduled, reason, payment_method, settings)


def issue_receipt(
    visit: Visit, issuer: User | None, *, fee_cents: int, payment_method: str, reason: str = ""
) -> Receipt:
    """Issue the original receipt for a signed, attended visit, in the treating RMT's name."""
    refuse_if_purged(visit.patient, ReceiptRefused)
    if problem := refusal(visit):
        raise ReceiptRefused(problem)
    charge = price(visit, fee_cents, payment_method, reason)
    previous = receipts_for_visit(visit)
    clinic: Clinic = db.session.get(Clinic, visit.clinic_id)  # type: ignore[assignment]
    patient, therapist = visit.patient, visit.therapist
    receipt = Receipt(
        clinic_id=clinic.id, visit_id=visit.id, patient_id=patient.id, therapist_id=therapist.id,
        issued_by_id=issuer.id if issuer else None, supersedes_id=previous[-1].id if previous else None,
        verification_code=new_code(),
        clinic_name=clinic.name, clinic_address=clinic.address, clinic_phone=clinic.phone,
        clinic_business_number=clinic.business_number or "",
        patient_name=patient.full_name,
        service_date=visit.visit_date, service_start=visit.start_time,
        duration_minutes=visit.duration_minutes,
        service_description=SERVICE_DESCRIPTION.format(minutes=visit.duration_minutes),
        therapist_name=therapist.full_name, therapist_designation=therapist.designation,
        therapist_registration_number=therapist.registration_number,
        therapist_registering_body=therapist.registering_body or "",
        signature_sha256=_signature_snapshot(therapist),
        scheduled_fee_cents=charge.scheduled_fee_cents, fee_cents=charge.fee_cents,
        fee_reason=charge.reason, tax_name=charge.settings.tax_name,
        tax_rate_bp=charge.settings.tax_rate_bp, tax_cents=charge.tax_cents,
        total_cents=charge.total_cents, payment_method=payment_method,
        paid_cents=charge.total_cents,
    )  # fmt: skip
    # Taken last, so the counter row is locked for as short a time as possible.
    receipt.number = next_number(clinic.id)
    db.session.add(receipt)
    db.session.flush()
    audit.record(
        Action.RECEIPT_ISSUE, receipt, actor=issuer, patient=patient, number=receipt.number,
        visit_id=visit.id, total_cents=receipt.total_cents, supersedes=receipt.supersedes_id,
    )  # fmt: skip
    return receipt


def reissue(receipt: Receipt, by: User | None, reason: str = "") -> ReceiptReissue:
    """Record a reprint; it prints as DUPLICATE with today's date and its own code (B6)."""
    if receipt.is_void:
        raise ReceiptRefused("A void receipt is not reissued. Issue a new receipt for the visit.")
    copy = (
        db.session.scalar(
            select(func.max(ReceiptReissue.copy_number)).where(
                ReceiptReissue.receipt_id == receipt.id
            )
        )
        or 0
    ) + 1
    row = ReceiptReissue(
        receipt_id=receipt.id, copy_number=copy, reissued_by_id=by.id if by else None,
        reason=reason.strip(), verification_code=new_code(),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    audit.record(
        Action.RECEIPT_REISSUE, receipt, actor=by, patient=receipt.patient,
        number=receipt.number, copy=copy, reason=row.reason,
    )  # fmt: skip
    return row


def void(receipt: Receipt, by: User | None, reason: str) -> ReceiptVoid:
    """Void a wrong receipt: it is kept and prints as VOID; a new one may then be issued."""
    if receipt.is_void:
        raise ReceiptRefused(f"Receipt {receipt.number_label} is already void.")
    if not reason.strip():
        raise ReceiptRefused("Give the reason for voiding the receipt.")
    row = ReceiptVoid(receipt=receipt, voided_by_id=by.id if by else None, reason=reason.strip())
    db.session.add(row)
    db.session.flush()
    audit.record(
        Action.RECEIPT_VOID, receipt, actor=by, patient=receipt.patient,
        number=receipt.number, reason=row.reason,
    )  # fmt: skip
    return row


def record_missed_fee(
    visit: Visit, by: User | None, *, fee_cents: int, payment_method: str, note: str = ""
) -> MissedVisitFee:
    """Record a late-cancellation or no-show fee. It never produces a treatment receipt."""
    if visit.attendance == ATTENDED:
        raise ReceiptRefused("The patient attended this visit: issue a treatment receipt instead.")
    if db.session.scalar(select(MissedVisitFee.id).where(MissedVisitFee.visit_id == visit.id)):
        raise ReceiptRefused("A fee is already recorded for this visit.")
    settings = settings_for(visit.clinic_id)
    if payment_method and payment_method not in settings.payment_methods:
        raise ReceiptRefused("The clinic does not accept that payment method.")
    if payment_method == GIFT_CERTIFICATE:
        raise ReceiptRefused("A gift certificate is redeemed for a treatment, not a missed visit.")
    tax = tax_for(fee_cents, settings.tax_rate_bp)
    fee = MissedVisitFee(
        clinic_id=visit.clinic_id, visit_id=visit.id, patient_id=visit.patient_id,
        attendance=visit.attendance, fee_cents=fee_cents, tax_cents=tax,
        total_cents=fee_cents + tax, payment_method=payment_method, note=note.strip(),
        recorded_by_id=by.id if by else None,
    )  # fmt: skip
    db.session.add(fee)
    db.session.flush()
    audit.record(
        Action.MISSED_FEE_CREATE, fee, actor=by, patient=visit.patient, visit_id=visit.id,
        total_cents=fee.total_cents,
    )  # fmt: skip
    return fee


# Queries ------------------------------------------------------------------------


def missed_fee_for(visit: Visit) -> MissedVisitFee | None:
    return db.session.scalar(select(MissedVisitFee).where(MissedVisitFee.visit_id == visit.id))


def receipts_issued_in_year(patient: Patient, year: int) -> list[Receipt]:
    """The patient's valid receipts issued in ``year`` (clinic calendar), oldest first."""
    start, end = utc_bounds(date(year, 1, 1), date(year, 12, 31))
    stmt = (
        select(Receipt)
        .outerjoin(ReceiptVoid, ReceiptVoid.receipt_id == Receipt.id)
        .where(
            Receipt.patient_id == patient.id,
            Receipt.issued_at >= start,
            Receipt.issued_at < end,
            ReceiptVoid.id.is_(None),
        )
        .order_by(Receipt.issued_at, Receipt.number)
    )
    return list(db.session.scalars(stmt))


def receipt_years(patient: Patient) -> list[int]:
    """Calendar years in which the patient has receipts, newest first."""
    stamps = db.session.scalars(select(Receipt.issued_at).where(Receipt.patient_id == patient.id))
    return sorted({local_date(s).year for s in stamps}, reverse=True)
