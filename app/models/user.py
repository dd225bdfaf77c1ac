"""Staff and patient-portal accounts."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.clinic import Clinic
from app.models.types import UTCDateTime, utcnow


class Role(StrEnum):
    OWNER = "owner"
    THERAPIST = "therapist"
    FRONT_DESK = "front_desk"
    PATIENT = "patient"

    @property
    def label(self) -> str:
        return {"front_desk": "Front desk"}.get(self.value, self.value.capitalize())


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, db.Model):
    """An account. Users are deactivated, never deleted: records name them."""

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_patient_id", "patient_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Part of the Flask-Login id: changing it signs the user out everywhere.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Therapist profile (printed on receipts, B3).
    designation: Mapped[str] = mapped_column(String(20), default="")
    registration_number: Mapped[str] = mapped_column(String(40), default="")
    registering_body: Mapped[str] = mapped_column(String(120), default="")
    signature_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    signature_mimetype: Mapped[str] = mapped_column(String(40), default="")

    # Patient portal: the one patient a ``patient`` account belongs to (unique index:
    # SQLite adds it to an existing table without a rebuild, see migration 0005).
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))

    clinic: Mapped[Clinic] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def has_signature(self) -> bool:
        return bool(self.signature_mimetype)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
