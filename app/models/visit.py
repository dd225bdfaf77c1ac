"""Visits (treatment sessions) with their SOAP note, applied protocols and amendments.

A signed visit is evidence (R2): nothing about it changes afterwards. The ORM
guards below refuse it in Python; on PostgreSQL a trigger refuses it in SQL too
(migration 0002). Corrections are ``Amendment`` rows, which are append-only.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship

from app.extensions import db
from app.models.clinic import Location
from app.models.patient import ImmutableRecordError, Patient
from app.models.types import UTCDateTime, utcnow
from app.models.user import User

DRAFT, SIGNED = "draft", "signed"
ATTENDED, CANCELLED, NO_SHOW = "attended", "cancelled", "no_show"


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_therapist_start", "therapist_id", "local_start"),
        Index("ix_visits_patient_start", "patient_id", "local_start"),
        Index("ix_visits_clinic_status_start", "clinic_id", "status", "local_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    # Wall-clock time at the clinic (what the receipt prints), start and end.
    local_start: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    local_end: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    duration_minutes: Mapped[int]
    attendance: Mapped[str] = mapped_column(String(12), default=ATTENDED)
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    lock_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # S: subjective
    chief_complaint: Mapped[str] = mapped_column(Text, default="")
    complaint_history: Mapped[str] = mapped_column(Text, default="")
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    pain_before: Mapped[int | None]
    pain_locations: Mapped[str] = mapped_column(Text, default="")
    aggravating: Mapped[str] = mapped_column(Text, default="")
    relieving: Mapped[str] = mapped_column(Text, default="")
    response_to_last: Mapped[str] = mapped_column(Text, default="")
    # S1 red-flag screen: code -> "yes" | "no"; a decision is needed if any is "yes".
    red_flags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    red_flag_decision: Mapped[str] = mapped_column(String(20), default="")
    red_flag_detail: Mapped[str] = mapped_column(Text, default="")
    # O: objective
    posture: Mapped[str] = mapped_column(Text, default="")
    range_of_motion: Mapped[str] = mapped_column(Text, default="")
    palpation: Mapped[str] = mapped_column(Text, default="")
    # [{muscle, side, status: active|latent, referral}]
    trigger_points: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Body chart: [{region, side, kind: pain|trigger_point|treated, intensity 0-10}]
    body_marks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Treatment
    treatment_notes: Mapped[str] = mapped_column(Text, default="")
    # A: assessment / clinical impression (never "diagnosis", S3)
    clinical_impression: Mapped[str] = mapped_column(Text, default="")
    treatment_response: Mapped[str] = mapped_column(Text, default="")
    pain_after: Mapped[int | None]
    # P: plan
    plan: Mapped[str] = mapped_column(Text, default="")
    frequency: Mapped[str] = mapped_column(String(200), default="")
    next_visit: Mapped[str] = mapped_column(String(200), default="")
    home_care: Mapped[str] = mapped_column(Text, default="")
    home_care_none: Mapped[bool] = mapped_column(default=False)
    referrals: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped[Patient] = relationship()
    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id])
    location: Mapped[Location | None] = relationship()
    applied: Mapped[list[AppliedProtocol]] = relationship(
        back_populates="visit",
        order_by="AppliedProtocol.position",
        cascade="save-update, merge",
        passive_deletes="all",  # never orphan a note's protocols; deleting a visit is refused
    )
    amendments: Mapped[list[Amendment]] = relationship(
        back_populates="visit", order_by="Amendment.created_at", passive_deletes="all"
    )

    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def is_signed(self) -> bool:
        return self.status == SIGNED

    @property
    def visit_date(self) -> date:
        return self.local_start.date()

    @property
    def start_time(self) -> time:
        return self.local_start.time()

    @property
    def red_flag_positive(self) -> list[str]:
        return [code for code, answer in (self.red_flags or {}).items() if answer == "yes"]

    @property
    def red_flags_cleared(self) -> bool:
        """No positive red flag, or a decision about it is on record."""
        return not self.red_flag_positive or bool(self.red_flag_decision)

    def set_schedule(self, day: date, start: time, minutes: int) -> None:
        self.local_start = datetime.combine(day, start)
        self.local_end = self.local_start + timedelta(minutes=minutes)
        self.duration_minutes = minutes


class AppliedProtocol(db.Model):
    """A protocol used in a visit, with a snapshot of the library version applied."""

    __tablename__ = "applied_protocols"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    protocol_id: Mapped[str] = mapped_column(String(100))
    content_version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    home_care: Mapped[str] = mapped_column(Text, default="")
    sensitive_area: Mapped[bool] = mapped_column(default=False)
    red_flag_screen: Mapped[bool] = mapped_column(default=False)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    side: Mapped[str] = mapped_column(String(10), default="")
    minutes: Mapped[int | None]
    pressure: Mapped[str] = mapped_column(String(20), default="")
    response: Mapped[str] = mapped_column(Text, default="")
    # S2: {"absolute": [...codes], "relative": [...], "reason": str, "by": user id, "at": iso}
    contraindication_ack: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    visit: Mapped[Visit] = relationship(back_populates="applied")


class Amendment(db.Model):
    """A dated correction or addition to a signed note, by a named person, with a reason."""

    __tablename__ = "amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)

    visit: Mapped[Visit] = relationship(back_populates="amendments")
    author: Mapped[User] = relationship()


def _was_signed(visit: Visit) -> bool:
    """True when the row as stored in the database is signed (a visit being
    inserted in this same flush, e.g. an import, is not stored yet)."""
    if not inspect(visit).persistent:
        return False
    history = inspect(visit).attrs.status.history
    stored = history.deleted[0] if history.deleted else visit.status
    return stored == SIGNED


@event.listens_for(Visit, "before_update")
def _guard_signed_visit(_mapper: Any, _conn: Any, visit: Visit) -> None:
    session = object_session(visit)
    changed = session is None or session.is_modified(visit, include_collections=False)
    if changed and _was_signed(visit):
        raise ImmutableRecordError("a signed visit note cannot be changed; add an amendment")


@event.listens_for(Visit, "before_delete")
def _guard_visit_delete(_mapper: Any, _conn: Any, visit: Visit) -> None:
    raise ImmutableRecordError("visits are never deleted")


@event.listens_for(Session, "before_flush")
def _guard_applied_protocols(session: Session, _ctx: Any, _instances: Any) -> None:
    """Applied protocols of a signed visit are part of the note: frozen with it."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        changed = obj in session.new or obj in session.deleted or session.is_modified(obj)
        if not changed:
            continue
        if isinstance(obj, AppliedProtocol):
            visit = obj.visit or session.get(Visit, obj.visit_id)
            if visit is not None and _was_signed(visit):
                raise ImmutableRecordError("protocols of a signed visit cannot change")
        if isinstance(obj, Amendment) and obj not in session.new:
            raise ImmutableRecordError("amendments are append-only")
