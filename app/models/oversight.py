"""Compliance settings of a clinic and the record of each retention purge (R4, B7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, event
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
