"""Write audit events (R5) in the caller's transaction.

``record`` only adds the row to the session; the view's single commit stores
it together with the change it describes, and a rollback discards both.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from app.extensions import db
from app.models import AuditEvent, Patient, User


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
        details=details,
    )
    db.session.add(event)
    return event
