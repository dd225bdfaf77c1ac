"""The patient portal: invitations, record-copy requests (R6) and the copies delivered.

A patient's portal account is a ``User`` with role ``patient`` and ``patient_id``
set. The clinic invites the patient by email with a one-time link; only the
SHA-256 of the link's token is stored. A request for a copy of the whole record
is kept as asked; it is fulfilled by a ``RecordCopy`` holding the exact PDF and
JSON the patient received. Requests and copies are evidence: append-only in the
ORM and, through triggers, in SQL (migration 0005).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.patient import ImmutableRecordError, Patient
from app.models.types import UTCDateTime, utcnow
from app.models.user import User

# The R6 answer period.
RECORD_REQUEST_DAYS = 30


class PortalInvite(db.Model):
    """A one-time, expiring link that lets a patient set their portal password."""

    __tablename__ = "portal_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Wrong dates of birth entered with this link (too many revoke it).
    failed_attempts: Mapped[int] = mapped_column(default=0)
    # Set when a newer invitation replaces this one.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[Patient] = relationship()
    created_by: Mapped[User | None] = relationship()

    def state(self, now: datetime) -> str:
        """``open``, ``used``, ``revoked`` or ``expired``."""
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        return "expired" if now >= self.expires_at else "open"


class RecordRequest(db.Model):
    """A patient's request for a copy of their whole record, as made."""

    __tablename__ = "record_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_on: Mapped[date]
    note: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped[Patient] = relationship()
    requested_by: Mapped[User] = relationship()
    record_copy: Mapped[RecordCopy | None] = relationship(back_populates="record_request")


class RecordCopy(db.Model):
    """The copy of the record delivered for one request: the PDF and the JSON, kept as sent."""

    __tablename__ = "record_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("record_requests.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pdf_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    json_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    json_sha256: Mapped[str] = mapped_column(String(64))

    record_request: Mapped[RecordRequest] = relationship(back_populates="record_copy")
    created_by: Mapped[User] = relationship()


def _refuse_update(_mapper: Any, _conn: Any, target: Any) -> None:
    state = inspect(target)
    if any(state.attrs[c.key].history.has_changes() for c in state.mapper.column_attrs):
        raise ImmutableRecordError(f"{type(target).__name__} rows are kept as made")


def _refuse_delete(_mapper: Any, _conn: Any, target: Any) -> None:
    """No session deletes a request or a copy. The one exception, a retention purge
    (R4), deletes them with bulk ``DELETE`` statements like every other guarded
    record, which do not pass through here; the triggers of migration 0006 let
    those through only for a patient with an approved ``retention_purges`` row."""
    raise ImmutableRecordError(f"{type(target).__name__} rows are never deleted")


for _model in (RecordRequest, RecordCopy):
    event.listen(_model, "before_update", _refuse_update)
    event.listen(_model, "before_delete", _refuse_delete)
