"""Who may do what: named permissions, the role map and object checks.

Views and templates ask the same predicates. An object of another clinic is
reported as 404, never 403, so its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import cache, wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import Select, bindparam, select
from werkzeug.local import LocalProxy

from app.extensions import db
from app.models import ATTENDED, SIGNED, Location, Patient, Role, User, Visit


class Permission(StrEnum):
    PATIENT_READ = "patient:read"  # demographics
    PATIENT_WRITE = "patient:write"
    CLINICAL_READ = "clinical:read"  # health history, notes
    CLINICAL_WRITE = "clinical:write"
    PROTOCOL_READ = "protocol:read"
    CLINIC_MANAGE = "clinic:manage"  # settings, locations
    STAFF_MANAGE = "staff:manage"
    AUDIT_READ = "audit:read"
    NOTE_WRITE = "note:write"  # chart, save and sign one's own visits
    RECEIPT_READ = "receipt:read"  # see, print and email receipts and statements
    RECEIPT_ISSUE = "receipt:issue"  # a therapist only for their own visits
    RECEIPT_REISSUE = "receipt:reissue"  # print a DUPLICATE
    RECEIPT_VOID = "receipt:void"
    BILLING_MANAGE = "billing:manage"  # fee schedule, tax, payment methods, export
    SUMMARY_CREATE = "summary:create"  # treatment summaries (clinical content)
    COMPLIANCE_READ = "compliance:read"  # the owner's compliance dashboard and retention
    RECORDS_PURGE = "records:purge"  # purge a patient's records after retention (R4)
    RMT_BILLING_READ = "rmt_billing:read"  # receipts under an RMT's number; a therapist: own
    PATIENT_INVITE = "patient:invite"  # invite a patient to the portal
    RECORD_REQUEST_MANAGE = "record_request:manage"  # fulfil record-copy requests (R6)


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission) - {Permission.NOTE_WRITE},
    Role.THERAPIST: frozenset(
        {
            P.PATIENT_READ,
            P.PATIENT_WRITE,
            P.CLINICAL_READ,
            P.CLINICAL_WRITE,
            P.PROTOCOL_READ,
            P.NOTE_WRITE,
            P.RECEIPT_READ,
            P.RECEIPT_ISSUE,
            P.RECEIPT_REISSUE,
            P.SUMMARY_CREATE,
            P.RMT_BILLING_READ,
        }
    ),
    Role.FRONT_DESK: frozenset(
        {
            P.PATIENT_READ,
            P.PATIENT_WRITE,
            P.RECEIPT_READ,
            P.RECEIPT_ISSUE,
            P.RECEIPT_REISSUE,
            P.PATIENT_INVITE,
        }
    ),
    Role.PATIENT: frozenset(),
}


_PERMISSIONS = frozenset(Permission)


def can(user: Any, permission: Permission | str) -> bool:
    """True when ``user`` is signed in, active and their role grants ``permission``.

    Called a dozen times per page, mostly from templates with the ``current_user``
    proxy: the proxy is resolved once, and permissions and roles are looked up by
    value (a StrEnum member hashes and compares as its value) instead of being
    converted to enum members on every call.
    """
    if isinstance(user, LocalProxy):
        user = user._get_current_object()
    if not getattr(user, "is_authenticated", False) or not user.active:
        return False
    if permission not in _PERMISSIONS:
        raise ValueError(f"{permission!r} is not a permission")
    return permission in ROLE_PERMISSIONS[user.role]


F = TypeVar("F", bound=Callable[..., Any])


def require(permission: Permission) -> Callable[[F], F]:
    """View decorator: sign-in required, then ``permission`` or 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


M = TypeVar("M", Patient, User, Location)


@cache
def _by_id_in_clinic(model: type[M]) -> Select[tuple[M]]:
    # A SELECT of ``model`` by id within a clinic, built once per model: a statement made
    # per call is built and cache-keyed again on every request, and nearly every page
    # loads its object through here.
    return select(model).where(
        model.clinic_id == bindparam("clinic_id"), model.id == bindparam("object_id")
    )


def get_or_404(model: type[M], object_id: int) -> M:
    """Load ``model`` by id within the user's clinic, or 404."""
    obj = db.session.execute(
        _by_id_in_clinic(model), {"clinic_id": current_user.clinic_id, "object_id": object_id}
    ).scalar()
    if obj is None:
        abort(404)
    return obj


def can_chart(user: Any, visit: Any) -> bool:
    """Only the treating therapist writes, signs and amends a visit's note."""
    return can(user, Permission.NOTE_WRITE) and visit.therapist_id == user.id


def patient_owns(patient: Any, obj: Any) -> bool:
    """The portal's object check: a patient reaches only documents of their own record.

    A visit also has to be signed and attended: drafts and missed visits never show.
    """
    if obj is None or patient is None or getattr(obj, "patient_id", None) != patient.id:
        return False
    if isinstance(obj, Visit):
        return obj.status == SIGNED and obj.attendance == ATTENDED
    return True


def can_issue_receipt(user: Any, visit: Any) -> bool:
    """Owner and front desk issue on behalf of the treating RMT; a therapist only for their own."""
    if not can(user, Permission.RECEIPT_ISSUE):
        return False
    return user.role != Role.THERAPIST or visit.therapist_id == user.id
