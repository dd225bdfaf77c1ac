"""Portal logic: invitations, what a patient may see, record-copy requests (R6).

Services add and flush; the view commits once. Nothing here reads ``request``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app import audit, mail
from app.audit import Action
from app.authz import patient_owns
from app.extensions import db
from app.models import (
    ATTENDED,
    RECORD_REQUEST_DAYS,
    SIGNED,
    Clinic,
    Patient,
    PortalInvite,
    Receipt,
    RecordCopy,
    RecordRequest,
    Role,
    TreatmentSummary,
    User,
    Visit,
    utcnow,
)
from app.models.user import new_session_token
from app.oversight.retention import refuse_if_purged
from app.receipts.services import local_date
from app.security import hash_password

# Wrong dates of birth on one invitation before it stops working.
MAX_INVITE_FAILURES = 5


class PortalRefused(ValueError):
    """The portal action is not possible; the message says why, for the person."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Invitations ----------------------------------------------------------------------


def account_for(patient: Patient) -> User | None:
    return db.session.scalar(select(User).where(User.patient_id == patient.id))


def latest_invite(patient: Patient) -> PortalInvite | None:
    stmt = select(PortalInvite).where(PortalInvite.patient_id == patient.id)
    return db.session.scalar(stmt.order_by(PortalInvite.id.desc()).limit(1))


def _email_taken(patient: Patient, email: str) -> bool:
    """True when another account (staff, or another patient) already uses ``email``."""
    owner = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    return owner is not None and owner.patient_id != patient.id


def invite(patient: Patient, by: User, *, now: datetime | None = None) -> tuple[PortalInvite, str]:
    """Make a new invitation link for ``patient``; older open links stop working."""
    refuse_if_purged(patient, PortalRefused)
    email = (patient.email or "").strip()
    if not email:
        raise PortalRefused(f"{patient.full_name} has no email address on file.")
    if not mail.configured():
        raise PortalRefused("Email is not set up for this clinic (see MAIL_SERVER).")
    if _email_taken(patient, email):
        raise PortalRefused(f"{email} already belongs to another account; use another address.")
    now = now or utcnow()
    for old in db.session.scalars(
        select(PortalInvite).where(
            PortalInvite.patient_id == patient.id,
            PortalInvite.used_at.is_(None),
            PortalInvite.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now
    token = secrets.token_urlsafe(32)
    hours = int(current_app.config["PORTAL_INVITE_TTL_HOURS"])
    row = PortalInvite(
        clinic_id=patient.clinic_id, patient_id=patient.id, email=email,
        token_hash=token_hash(token), created_at=now, created_by_id=by.id,
        expires_at=now + timedelta(hours=hours),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    audit.record(
        Action.PORTAL_INVITE, row, actor=by, patient=patient, to=email,
        expires_at=row.expires_at.isoformat(),
    )  # fmt: skip
    return row, token


def send_invite(patient: Patient, row: PortalInvite, link: str) -> None:
    """Email the link. Raises MailError; the caller commits only after this returns."""
    clinic = db.session.get(Clinic, patient.clinic_id)
    hours = int(current_app.config["PORTAL_INVITE_TTL_HOURS"])
    body = (
        f"Hello {patient.given_name},\n\n"
        f"{clinic.name} invites you to its patient portal, where you can download your "
        "receipts and treatment summaries and read your home-care advice.\n\n"
        f"Open this link to choose your password (it works once, for {hours} hours):\n\n"
        f"{link}\n\n"
        "If you did not expect this message, ignore it: nothing happens until the link "
        f"is used.\n\n{clinic.name}\n"
    )
    mail.send_mail(row.email, f"Your patient portal at {clinic.name}", body)


def find_invite(token: str) -> PortalInvite | None:
    return db.session.scalar(
        select(PortalInvite).where(PortalInvite.token_hash == token_hash(token))
    )


def invite_problem(row: PortalInvite | None, now: datetime | None = None) -> str | None:
    """Why the link cannot be used (``unknown``, ``used``, ``revoked``, ``expired``), or None."""
    if row is None:
        return "unknown"
    state = row.state(now or utcnow())
    return None if state == "open" else state


def refuse_invite(row: PortalInvite | None, reason: str) -> None:
    """Audit an attempt to use a link that does not work (or a wrong date of birth)."""
    audit.record(
        Action.PORTAL_INVITE_REFUSED, row, actor=None,
        clinic_id=row.clinic_id if row else None,
        patient=row.patient if row else None, reason=reason,
    )  # fmt: skip


def _wrong_birth_date(row: PortalInvite) -> None:
    """Count a wrong date of birth; too many and the link stops working."""
    row.failed_attempts += 1
    if row.failed_attempts >= MAX_INVITE_FAILURES:
        row.revoked_at = utcnow()
    refuse_invite(row, "date of birth does not match")


def accept(row: PortalInvite, birth_date: date | None, password: str) -> User | None:
    """Use the link: create the patient's account, or set a new password on it.

    The date of birth must match the patient's; if not, the failure is counted and
    audited and None is returned.
    """
    patient = row.patient
    if birth_date != patient.date_of_birth:
        _wrong_birth_date(row)
        return None
    now = utcnow()
    user = account_for(patient)
    if user is None:
        user = User(
            clinic_id=patient.clinic_id, email=row.email, full_name=patient.full_name,
            role=Role.PATIENT.value, patient_id=patient.id, password_hash="",
        )  # fmt: skip
        db.session.add(user)
    user.email = row.email
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()
    user.active = True
    row.used_at = now
    db.session.flush()
    audit.record(Action.PORTAL_INVITE_ACCEPT, row, actor=user, patient=patient, user_id=user.id)
    return user


# What the patient sees ---------------------------------------------------------------


def visible_visits(patient: Patient) -> list[Visit]:
    """Signed, attended visits only: a draft or a missed visit is not shown."""
    stmt = (
        select(Visit)
        .where(Visit.patient_id == patient.id, Visit.status == SIGNED, Visit.attendance == ATTENDED)
        .options(selectinload(Visit.therapist))
        .order_by(Visit.local_start.desc())
    )
    return list(db.session.scalars(stmt))


def own_visit(patient: Patient, visit_id: int) -> Visit | None:
    visit = db.session.get(Visit, visit_id)
    return visit if patient_owns(patient, visit) else None


def receipts(patient: Patient) -> list[Receipt]:
    stmt = (
        select(Receipt)
        .where(Receipt.patient_id == patient.id)
        .options(selectinload(Receipt.void), selectinload(Receipt.reissues))
        .order_by(Receipt.service_date.desc(), Receipt.number.desc())
    )
    return list(db.session.scalars(stmt))


def own_receipt(patient: Patient, receipt_id: int) -> Receipt | None:
    receipt = db.session.get(Receipt, receipt_id)
    return receipt if patient_owns(patient, receipt) else None


def summaries(patient: Patient) -> list[TreatmentSummary]:
    stmt = select(TreatmentSummary).where(TreatmentSummary.patient_id == patient.id)
    return list(db.session.scalars(stmt.order_by(TreatmentSummary.created_at.desc())))


def own_summary(patient: Patient, summary_id: int) -> TreatmentSummary | None:
    summary = db.session.get(TreatmentSummary, summary_id)
    return summary if patient_owns(patient, summary) else None


def summary_visits(summary: TreatmentSummary) -> list[Visit]:
    """The visits a summary covered, as they were listed when it was issued."""
    stmt = (
        select(Visit)
        .where(Visit.id.in_(summary.visit_ids or []), Visit.patient_id == summary.patient_id)
        .options(selectinload(Visit.therapist), selectinload(Visit.applied))
        .order_by(Visit.local_start)
    )
    return list(db.session.scalars(stmt))


def deny(patient: Patient, user: User, kind: str, object_id: int | str) -> None:
    """Audit a portal look-up of something that is not this patient's (answered with 404)."""
    audit.record(
        Action.PORTAL_ACCESS_DENIED, None, actor=user, patient=patient, kind=kind,
        attempted_id=object_id,
    )  # fmt: skip


# Record copies (R6) -------------------------------------------------------------------


def requests_of(patient: Patient) -> list[RecordRequest]:
    stmt = (
        select(RecordRequest)
        .where(RecordRequest.patient_id == patient.id)
        .options(selectinload(RecordRequest.record_copy))
        .order_by(RecordRequest.requested_at.desc())
    )
    return list(db.session.scalars(stmt))


def open_request(patient: Patient) -> RecordRequest | None:
    return next((r for r in requests_of(patient) if r.record_copy is None), None)


def request_record(patient: Patient, user: User, note: str = "") -> RecordRequest:
    """Record the patient's request for a copy of their whole record, due in 30 days."""
    refuse_if_purged(patient, PortalRefused)
    if open_request(patient):
        raise PortalRefused("Your earlier request is still being prepared.")
    now = utcnow()
    row = RecordRequest(
        clinic_id=patient.clinic_id, patient_id=patient.id, requested_by_id=user.id,
        requested_at=now, due_on=local_date(now) + timedelta(days=RECORD_REQUEST_DAYS),
        note=note.strip(),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    audit.record(
        Action.RECORD_REQUEST_CREATE, row, actor=user, patient=patient,
        due_on=row.due_on.isoformat(),
    )  # fmt: skip
    return row


def clinic_requests(clinic_id: int) -> tuple[list[RecordRequest], list[RecordRequest]]:
    """The clinic's open requests (soonest due first) and its fulfilled ones (latest first)."""
    stmt = (
        select(RecordRequest)
        .where(RecordRequest.clinic_id == clinic_id)
        .options(selectinload(RecordRequest.patient), selectinload(RecordRequest.record_copy))
    )
    rows = list(db.session.scalars(stmt))
    pending = sorted((r for r in rows if r.record_copy is None), key=lambda r: (r.due_on, r.id))
    done = sorted((r for r in rows if r.record_copy), key=lambda r: -r.record_copy.id)
    return pending, done


def own_copy(patient: Patient, copy_id: int) -> RecordCopy | None:
    row = db.session.get(RecordCopy, copy_id)
    return row if patient_owns(patient, row) else None


def copy_download(row: RecordCopy, fmt: str, user: User) -> tuple[bytes, str, str]:
    """The stored PDF or JSON of a delivered copy, audited: (data, mimetype, filename)."""
    data = row.pdf_data if fmt == "pdf" else row.json_data
    mimetype = "application/pdf" if fmt == "pdf" else "application/json"
    audit.record(
        Action.RECORD_COPY_DOWNLOAD, row, actor=user, patient=row.record_request.patient,
        format=fmt, sha256=row.pdf_sha256 if fmt == "pdf" else row.json_sha256,
    )  # fmt: skip
    return data, mimetype, f"patient-record-{local_date(row.created_at).isoformat()}.{fmt}"
