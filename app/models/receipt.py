"""Billing: fee schedule, tax and payment settings, receipts and the documents kept with them.

An issued receipt is evidence (B6): it snapshots everything it prints and is never
updated or deleted. A reprint is a ``ReceiptReissue`` row (marked DUPLICATE), a
correction is a ``ReceiptVoid`` row plus a new receipt that ``supersedes`` the void
one. The ORM guards below refuse changes in Python; on PostgreSQL triggers refuse
them in SQL too (migration 0003), and check that a receipt names the patient,
therapist and date of a signed, attended visit (B5).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.patient import ImmutableRecordError, Patient
from app.models.types import UTCDateTime, utcnow
from app.models.user import User
from app.models.visit import Visit

GIFT_CERTIFICATE = "gift_certificate"
# Payment methods a clinic can accept: code -> label printed on the receipt.
PAYMENT_METHODS = {
    "cash": "Cash",
    "debit": "Debit card",
    "credit": "Credit card",
    "e_transfer": "Interac e-Transfer",
    GIFT_CERTIFICATE: "Gift certificate",
}


class BillingSettings(db.Model):
    """A clinic's tax and accepted payment methods (one row per clinic)."""

    __tablename__ = "billing_settings"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    tax_name: Mapped[str] = mapped_column(String(20), default="HST")
    # Basis points: 1300 = 13 %. Integers keep money exact on every database.
    tax_rate_bp: Mapped[int] = mapped_column(default=1300)
    payment_methods: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(PAYMENT_METHODS))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FeeScheduleItem(db.Model):
    """The clinic's set price for a treatment of a given length."""

    __tablename__ = "fee_schedule_items"
    __table_args__ = (UniqueConstraint("clinic_id", "minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    minutes: Mapped[int]
    fee_cents: Mapped[int]


class ReceiptCounter(db.Model):
    """The last receipt number used by a clinic; locked while a number is taken."""

    __tablename__ = "receipt_counters"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class SignatureImage(db.Model):
    """A therapist's signature as it was when a receipt was issued (content-addressed)."""

    __tablename__ = "signature_images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    image: Mapped[bytes] = mapped_column(LargeBinary)
    mimetype: Mapped[str] = mapped_column(String(40))


class Receipt(db.Model):
    """An issued treatment receipt (the original). Never updated or deleted."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("clinic_id", "number"),
        # One original per visit: the first receipt of a visit supersedes nothing,
        # each later one supersedes exactly one (void) receipt.
        Index(
            "uq_receipts_visit_first",
            "visit_id",
            unique=True,
            sqlite_where=text("supersedes_id IS NULL"),
            postgresql_where=text("supersedes_id IS NULL"),
        ),
        Index("ix_receipts_clinic_issued", "clinic_id", "issued_at"),
        Index("ix_receipts_patient_service", "patient_id", "service_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    number: Mapped[int]
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), unique=True)
    verification_code: Mapped[str] = mapped_column(String(64), unique=True)

    # B1: the clinic as printed
    clinic_name: Mapped[str] = mapped_column(String(200))
    clinic_address: Mapped[str] = mapped_column(String(500))
    clinic_phone: Mapped[str] = mapped_column(String(40))
    clinic_business_number: Mapped[str] = mapped_column(String(40), default="")
    # B2: the patient and the service
    patient_name: Mapped[str] = mapped_column(String(200))
    service_date: Mapped[date]
    service_start: Mapped[time]
    duration_minutes: Mapped[int]
    service_description: Mapped[str] = mapped_column(String(200))
    # B3: the treating RMT
    therapist_name: Mapped[str] = mapped_column(String(200))
    therapist_designation: Mapped[str] = mapped_column(String(20))
    therapist_registration_number: Mapped[str] = mapped_column(String(40))
    therapist_registering_body: Mapped[str] = mapped_column(String(120), default="")
    signature_sha256: Mapped[str | None] = mapped_column(ForeignKey("signature_images.sha256"))
    # B4: money, in cents
    scheduled_fee_cents: Mapped[int | None]
    fee_cents: Mapped[int]
    fee_reason: Mapped[str] = mapped_column(Text, default="")
    tax_name: Mapped[str] = mapped_column(String(20))
    tax_rate_bp: Mapped[int]
    tax_cents: Mapped[int]
    total_cents: Mapped[int]
    payment_method: Mapped[str] = mapped_column(String(20))
    paid_cents: Mapped[int]

    visit: Mapped[Visit] = relationship()
    patient: Mapped[Patient] = relationship()
    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    signature: Mapped[SignatureImage | None] = relationship()
    void: Mapped[ReceiptVoid | None] = relationship(back_populates="receipt")
    reissues: Mapped[list[ReceiptReissue]] = relationship(
        back_populates="receipt", order_by="ReceiptReissue.copy_number"
    )

    @property
    def number_label(self) -> str:
        return f"{self.number:06d}"

    @property
    def is_void(self) -> bool:
        return self.void is not None

    @property
    def is_gift_certificate(self) -> bool:
        return self.payment_method == GIFT_CERTIFICATE

    @property
    def paid_in_full(self) -> bool:
        return not self.is_gift_certificate and self.paid_cents >= self.total_cents

    @property
    def payment_label(self) -> str:
        return PAYMENT_METHODS.get(self.payment_method, self.payment_method)

    @property
    def tax_rate_label(self) -> str:
        return f"{self.tax_rate_bp / 100:g} %"


class ReceiptReissue(db.Model):
    """A reprint of a receipt: same number and date, marked DUPLICATE with its own date."""

    __tablename__ = "receipt_reissues"
    __table_args__ = (UniqueConstraint("receipt_id", "copy_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), index=True)
    copy_number: Mapped[int]
    reissued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reissued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    verification_code: Mapped[str] = mapped_column(String(64), unique=True)

    receipt: Mapped[Receipt] = relationship(back_populates="reissues")
    reissued_by: Mapped[User | None] = relationship()


class ReceiptVoid(db.Model):
    """The voiding of a wrong receipt, with the reason. The receipt itself is kept."""

    __tablename__ = "receipt_voids"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), unique=True)
    voided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)

    receipt: Mapped[Receipt] = relationship(back_populates="void")
    voided_by: Mapped[User | None] = relationship()


class MissedVisitFee(db.Model):
    """A fee charged for a cancelled or missed visit. Never a treatment receipt (B5)."""

    __tablename__ = "missed_visit_fees"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    attendance: Mapped[str] = mapped_column(String(12))
    fee_cents: Mapped[int]
    tax_cents: Mapped[int]
    total_cents: Mapped[int]
    payment_method: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    recorded_by: Mapped[User | None] = relationship()

    @property
    def payment_label(self) -> str:
        return PAYMENT_METHODS.get(self.payment_method, "Not paid yet")


class TreatmentSummary(db.Model):
    """A treatment summary as issued: which signed visits it covered, for verification."""

    __tablename__ = "treatment_summaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    date_from: Mapped[date]
    date_to: Mapped[date]
    visit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # [{name, designation, registration_number}] of the treating RMTs
    therapists: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    first_service: Mapped[date | None]
    last_service: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verification_code: Mapped[str] = mapped_column(String(64), unique=True)

    created_by: Mapped[User | None] = relationship()


EVIDENCE = (Receipt, ReceiptReissue, ReceiptVoid, MissedVisitFee, TreatmentSummary, SignatureImage)


def _refuse_update(_mapper: Any, _conn: Any, target: Any) -> None:
    state = inspect(target)
    if any(state.attrs[c.key].history.has_changes() for c in state.mapper.column_attrs):
        raise ImmutableRecordError(
            f"{type(target).__name__} rows are kept as issued; void and reissue instead"
        )


def _refuse_delete(_mapper: Any, _conn: Any, target: Any) -> None:
    raise ImmutableRecordError(f"{type(target).__name__} rows are never deleted")


for _model in EVIDENCE:
    event.listen(_model, "before_update", _refuse_update)
    event.listen(_model, "before_delete", _refuse_delete)
