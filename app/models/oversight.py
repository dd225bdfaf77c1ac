"""Compliance settings of a clinic and the record of each retention purge (R4, B7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.patient import ImmutableRecordError
from app.models.receipt import Receipt
from app.models.types import UTCDateTime, utcnow
from app.models.user import User
from app.models.visit import Visit

WORKING_DAY_MINUTES = 8 * 60
SNOOP_MIN_PATIENTS = 10
SNOOP_WINDOW_DAYS = 30


class ComplianceSettings(db.Model):
    """Thresholds of the owner's compliance dashboard (one row per clinic, defaults without)."""

    __tablename__ = "compliance_settings"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    # A therapist's working day: more visit-minutes than this in one day is flagged (B7).
    working_day_minutes: Mapped[int] = mapped_column(default=WORKING_DAY_MINUTES)
    # Staff who opened the charts of at least this many patients they never treated,
    # within this many days, are listed for review.
    snoop_min_patients: Mapped[int] = mapped_column(default=SNOOP_MIN_PATIENTS)
    snoop_window_days: Mapped[int] = mapped_column(default=SNOOP_WINDOW_DAYS)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The last full check of every rule (``flask compliance check``, or the first
    # dashboard view), and how many flags it had to add or remove: anything but 0
    # means a record was written outside the services that keep flags current.
    flags_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flags_repaired: Mapped[int] = mapped_column(default=0)


class ComplianceFlag(db.Model):
    """One finding of a compliance rule, kept current as records are written (B7, R4).

    The rules look at a clinic's whole history; the dashboard reads these rows
    instead, so it costs the same at a thousand visits and at millions. Each write
    re-checks only what it touched (``app.oversight.flags``); a full check re-derives
    them all. ``key`` names the finding within its rule (a visit, a pair of visits,
    a therapist-day, a receipt, a patient). Two rules depend on the clock: a visit
    without a receipt is listed a day after it started, a record past retention the
    day after its retention end; ``due_at`` (clinic wall clock) holds that moment,
    and findings due at once carry ``ALWAYS_DUE``.
    """

    __tablename__ = "compliance_flags"
    __table_args__ = (
        UniqueConstraint("clinic_id", "rule", "key", name="uq_compliance_flags_rule_key"),
        Index("ix_compliance_flags_sort", "clinic_id", "rule", "sort_at"),
        Index("ix_compliance_flags_due", "clinic_id", "rule", "due_at"),
        Index("ix_compliance_flags_patient", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    rule: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(48))
    subject_id: Mapped[int]  # the visit, receipt or patient the finding links to
    other_id: Mapped[int | None]  # the second visit of a pair; the receipt of an amended note
    therapist_id: Mapped[int | None]
    patient_id: Mapped[int | None]
    day: Mapped[date | None]  # an overbooked day; a patient's last visit
    amount: Mapped[int | None]  # minutes booked that day
    tally: Mapped[int | None]  # visits that day, amendments, duplicates
    sort_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)


class RetentionPurge(db.Model):
    """An owner's approved purge of one patient's clinical records after retention (R4).

    The row is written before anything is deleted: the database triggers allow a
    DELETE of a visit, note, receipt or history only for a patient that has one.
    It is append-only and keeps what was removed, counted by table.
    """

    __tablename__ = "retention_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_visit_on: Mapped[date | None]
    retention_end: Mapped[date]
    # table name -> number of rows deleted
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    approved_by: Mapped[User] = relationship()


@event.listens_for(RetentionPurge, "before_update")
def _refuse_update(_mapper: Any, _conn: Any, target: Any) -> None:
    raise ImmutableRecordError("retention purge records are append-only")


@event.listens_for(RetentionPurge, "before_delete")
def _refuse_delete(_mapper: Any, _conn: Any, target: Any) -> None:
    raise ImmutableRecordError("retention purge records are never deleted")


# Indexes the dashboard and the RMT billing report read (migration 0006). Declared
# here so the feature that needs them owns them.
Index("ix_visits_clinic_therapist_start", Visit.clinic_id, Visit.therapist_id, Visit.local_start)
Index(
    "ix_receipts_clinic_therapist_issued",
    Receipt.clinic_id,
    Receipt.therapist_id,
    Receipt.issued_at,
)
