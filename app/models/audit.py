"""The audit log: who did what to which record, and when (R5).

Events are append-only and hash-chained per clinic (see ``app.audit_chain``):
each stores its place in the chain (``seq``), the hash of the event before it
and the hash of its own content, so a changed, removed, inserted or reordered
row shows up when the chain is verified.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.user import User


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_clinic_id_id", "clinic_id", "id"),
        Index("ix_audit_events_clinic_patient", "clinic_id", "patient_id", "id"),
        Index("ix_audit_events_clinic_actor", "clinic_id", "actor_id", "id"),
        Index("ix_audit_events_clinic_action", "clinic_id", "action", "id"),
        Index("ix_audit_events_clinic_created", "clinic_id", "created_at"),
        Index("uq_audit_events_clinic_seq", "clinic_id", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40), default="")
    subject_id: Mapped[int | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(default=0)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")

    actor: Mapped[User | None] = relationship()


class AuditChainHead(db.Model):
    """The last link of one clinic's chain (chain 0 holds events of no clinic).

    Updating this row is how a transaction takes its turn to append: the row
    lock serialises writers, and comparing it with the last event shows events
    removed from the end of the chain.
    """

    __tablename__ = "audit_chain_heads"

    chain_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))
