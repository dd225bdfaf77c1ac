"""Patients, their versioned health history and their consents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, fold, phone_key, utcnow
from app.models.user import User


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (
        # Family name, then the list order (migration 0007): no sort for the first page.
        Index("ix_patients_clinic_family_key", "clinic_id", "family_key", "given_key", "id"),
        Index("ix_patients_clinic_given_key", "clinic_id", "given_key"),
        Index("ix_patients_clinic_preferred_key", "clinic_id", "preferred_key"),
        Index("ix_patients_clinic_phone_digits", "clinic_id", "phone_digits"),
        Index("ix_patients_clinic_date_of_birth", "clinic_id", "date_of_birth"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str] = mapped_column(String(100), default="")
    date_of_birth: Mapped[date]
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    emergency_contact_name: Mapped[str] = mapped_column(String(200), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(String(40), default="")
    insurer: Mapped[str] = mapped_column(String(120), default="")
    policy_number: Mapped[str] = mapped_column(String(60), default="")
    referral_on_file: Mapped[bool] = mapped_column(default=False)
    referral_date: Mapped[date | None]
    referral_physician: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Folded copies for indexed, accent- and case-insensitive prefix search.
    family_key: Mapped[str] = mapped_column(String(100), default="")
    given_key: Mapped[str] = mapped_column(String(100), default="")
    preferred_key: Mapped[str] = mapped_column(String(100), default="")
    phone_digits: Mapped[str] = mapped_column(String(40), default="")
    # Moved by the database (triggers, migration 0010) in the transaction of any write the
    # chart shows: the patient's own row, visits, receipts, voids, reissues, missed-visit
    # fees, consents, health histories, purges, and the name of a user they show. The key
    # of the chart's kept record (app.patients.chart_cache). Never set it.
    chart_stamp: Mapped[int] = mapped_column(default=0, server_default="0")

    histories: Mapped[list[HealthHistory]] = relationship(
        back_populates="patient", order_by="HealthHistory.version.desc()", lazy="dynamic"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="patient", order_by="Consent.given_on.desc()", lazy="dynamic"
    )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def display_name(self) -> str:
        if self.preferred_name and self.preferred_name != self.given_name:
            return f"{self.given_name} ({self.preferred_name}) {self.family_name}"
        return self.full_name

    def refresh_search_keys(self) -> None:
        self.family_key = fold(self.family_name)
        self.given_key = fold(self.given_name)
        self.preferred_key = fold(self.preferred_name)
        self.phone_digits = phone_key(self.phone)


@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _patient_keys(_mapper: Any, _conn: Any, patient: Patient) -> None:
    patient.refresh_search_keys()


class HealthHistory(db.Model):
    """One dated version of a patient's health history. Never updated in place."""

    __tablename__ = "health_histories"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    version: Mapped[int]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    medications: Mapped[str] = mapped_column(Text, default="")
    allergies: Mapped[str] = mapped_column(Text, default="")
    surgeries: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped[Patient] = relationship(back_populates="histories")
    recorded_by: Mapped[User] = relationship()


# Consent to assessment and treatment must cover each of these (R3).
CONSENT_ELEMENTS = {
    "nature": "The nature of the assessment and treatment",
    "benefits": "Expected benefits",
    "risks": "Material risks and side effects",
    "alternatives": "Reasonable alternatives",
    "no_treatment": "Likely consequences of not having treatment",
    "right_to_stop": "The right to refuse or stop at any time",
}


class Consent(db.Model):
    """A dated, documented consent. Kept forever; a withdrawal is a new row."""

    __tablename__ = "consents"
    __table_args__ = (
        # Only consents that name a visit (migration 0007): selective where most have none.
        Index(
            "ix_consents_visit_kind", "visit_id", "kind",
            sqlite_where=text("visit_id IS NOT NULL"), postgresql_where=text("visit_id IS NOT NULL"),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), default="treatment")  # or "sensitive_area"
    # A sensitive-area consent is written for one visit (R3) and names the areas.
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    given_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(20), default="written")
    elements: Mapped[list[str]] = mapped_column(JSON, default=list)
    withdrawn: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="consents")
    recorded_by: Mapped[User] = relationship()

    @property
    def complete(self) -> bool:
        return not self.withdrawn and set(CONSENT_ELEMENTS) <= set(self.elements)


class ImmutableRecordError(RuntimeError):
    """Raised when code tries to change a record that is kept as evidence."""


@event.listens_for(HealthHistory, "before_update")
@event.listens_for(Consent, "before_update")
def _refuse_update(_mapper: Any, _conn: Any, target: Any) -> None:
    raise ImmutableRecordError(f"{type(target).__name__} rows are append-only")


@event.listens_for(HealthHistory, "before_delete")
@event.listens_for(Consent, "before_delete")
def _refuse_delete(_mapper: Any, _conn: Any, target: Any) -> None:
    raise ImmutableRecordError(f"{type(target).__name__} rows are never deleted")
