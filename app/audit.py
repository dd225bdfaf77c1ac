"""Write audit events (R5) in the caller's transaction.

``record`` holds the event in the session; the view's single commit links it
into the clinic's hash chain (``app.audit_chain``) and stores it together with
the change it describes, and a rollback discards both.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask import current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from app import audit_chain
from app.extensions import db
from app.models import AuditEvent, Patient, User, utcnow


class Action(StrEnum):
    SIGNIN = "auth:signin"
    SIGNIN_FAILED = "auth:signin_failed"
    SIGNOUT = "auth:signout"
    PASSWORD_CHANGE = "auth:password_change"  # noqa: S105 - an action name
    PATIENT_CREATE = "patient:create"
    PATIENT_UPDATE = "patient:update"
    PATIENT_VIEW = "patient:view"
    PATIENT_SEARCH = "patient:search"
    HISTORY_CREATE = "health_history:create"
    HISTORY_VIEW = "health_history:view"
    CONSENT_CREATE = "consent:create"
    CLINIC_UPDATE = "clinic:update"
    CLINIC_CREATE = "clinic:create"
    LOCATION_CREATE = "location:create"
    LOCATION_UPDATE = "location:update"
    USER_CREATE = "user:create"
    USER_UPDATE = "user:update"
    USER_DEACTIVATE = "user:deactivate"
    USER_REACTIVATE = "user:reactivate"
    AUDIT_VIEW = "audit:view"
    AUDIT_VERIFY = "audit:verify"
    VISIT_CREATE = "visit:create"
    VISIT_VIEW = "visit:view"
    VISIT_UPDATE = "visit:update"
    VISIT_SIGN = "visit:sign"
    VISIT_AMEND = "visit:amend"
    VISIT_PRINT = "visit:print"
    VISIT_CHANGE_REFUSED = "visit:change_refused"
    PROTOCOL_APPLY = "applied_protocol:add"
    PROTOCOL_REMOVE = "applied_protocol:remove"
    CONTRAINDICATION_ACK = "contraindication:acknowledge"
    BILLING_UPDATE = "billing:update"
    RECEIPT_ISSUE = "receipt:issue"
    RECEIPT_VIEW = "receipt:view"
    RECEIPT_PRINT = "receipt:print"
    RECEIPT_REISSUE = "receipt:reissue"
    RECEIPT_VOID = "receipt:void"
    RECEIPT_EMAIL = "receipt:email"
    RECEIPT_EXPORT = "receipt:export"
    RECEIPT_VERIFY = "receipt:verify"
    MISSED_FEE_CREATE = "missed_visit_fee:create"
    SUMMARY_PRINT = "summary:print"
    SUMMARY_EMAIL = "summary:email"
    SUMMARY_VERIFY = "summary:verify"
    STATEMENT_PRINT = "statement:print"
    STATEMENT_EMAIL = "statement:email"
    # Oversight
    COMPLIANCE_VIEW = "compliance:view"
    COMPLIANCE_UPDATE = "compliance:update"
    COMPLIANCE_CHECK = "compliance:check"
    BILLING_REPORT_VIEW = "billing_report:view"
    BILLING_REPORT_EXPORT = "billing_report:export"
    RETENTION_VIEW = "retention:view"
    PATIENT_PURGE = "patient:purge"
    # Patient portal
    PORTAL_INVITE = "portal:invite"
    PORTAL_INVITE_ACCEPT = "portal:invite_accept"
    PORTAL_INVITE_REFUSED = "portal:invite_refused"
    PORTAL_VIEW = "portal:view"
    PORTAL_VISIT_VIEW = "portal:visit_view"
    PORTAL_RECEIPT_DOWNLOAD = "portal:receipt_download"
    PORTAL_SUMMARY_DOWNLOAD = "portal:summary_download"
    PORTAL_ACCESS_DENIED = "portal:access_denied"
    RECORD_REQUEST_CREATE = "record_request:create"
    RECORD_REQUEST_LIST = "record_request:list"
    RECORD_COPY_CREATE = "record_copy:create"
    RECORD_COPY_EMAIL = "record_copy:email"
    RECORD_COPY_DOWNLOAD = "record_copy:download"

    @property
    def subject(self) -> str:
        return self.value.split(":", 1)[0]


def _current_actor() -> User | None:
    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[attr-defined]
    return None


def record(
    action: Action,
    subject: Any = None,
    *,
    actor: User | None = None,
    clinic_id: int | None = None,
    patient: Patient | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event for ``action`` on ``subject`` to the current transaction."""
    actor = actor or _current_actor()
    if patient is None and isinstance(subject, Patient):
        patient = subject
    if clinic_id is None:
        clinic_id = getattr(subject, "clinic_id", None) or (
            patient.clinic_id if patient else actor.clinic_id if actor else None
        )
    if subject is not None and getattr(subject, "id", None) is None:
        db.session.flush()
    event = AuditEvent(
        clinic_id=clinic_id,
        actor_id=actor.id if actor else None,
        action=str(action),
        subject_type=type(subject).__name__.lower() if subject is not None else "",
        subject_id=getattr(subject, "id", None),
        patient_id=patient.id if patient else None,
        ip=(request.remote_addr or "") if has_request_context() else "",
        created_at=utcnow(),
        details=details,
    )
    audit_chain.queue(db.session(), event)
    return event


def commit_view() -> None:
    """Commit a request that only read: its audit entry is its only write.

    Read views call this after rendering, instead of ``db.session.commit()``:

    - On PostgreSQL the commit does not wait for the disk flush of its WAL, unless
      ``VIEW_AUDIT_SYNC_COMMIT`` is set. The entry is in the same transaction as ever, and
      the chain stays whole whatever happens: a crash of the database server can lose only
      the records of the last fraction of a second's views, never a change (every write
      still waits for its flush, and with it flushes every view committed before it).
      docs/audit.md.
    - What the session loaded is not expired: nothing reads it again.

    A transaction that wrote anything else (through the ORM or with SQL) is committed the
    ordinary way: ``audit_chain`` notes every statement a transaction sends.
    """
    session = db.session()
    session.info[audit_chain.VIEW_ONLY] = not current_app.config["VIEW_AUDIT_SYNC_COMMIT"]
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def verify_chain(chain_id: int, *, actor: User | None = None) -> audit_chain.ChainReport:
    """Walk one clinic's chain and record the outcome as the chain's next link."""
    report = audit_chain.verify(db.session(), chain_id)
    record(
        Action.AUDIT_VERIFY,
        actor=actor,
        clinic_id=chain_id or None,
        intact=report.ok,
        events=report.events,
        first_bad_event=report.first_bad_id,
        problems=report.problems[:5],
    )
    return report


def chain_state(clinic_id: int) -> dict[str, Any]:
    """What the owner's audit page shows: the head, the tail check, the last walk."""
    head = db.session.get(audit_chain.AuditChainHead, clinic_id)
    last_walk = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.clinic_id == clinic_id, AuditEvent.action == Action.AUDIT_VERIFY.value)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    return {
        "links": head.seq if head else 0,
        "head_hash": head.hash if head else audit_chain.GENESIS,
        "tail_intact": audit_chain.tail_intact(db.session(), clinic_id),
        "last_walk": last_walk,
    }
