"""Retention (R4): when each record may go, the list of those past it, and the purge.

Records are kept ``Clinic.retention_years`` after the last visit, or after the
18th birthday when the patient was a minor at the last visit, whichever is later.
Nothing goes before that. After it, the owner may purge a patient: a
``RetentionPurge`` row is written first (the database triggers of migration 0006
allow the deletes only for a patient that has one), then the clinical rows, and
every copy of them (record copies given to the patient, their requests, portal
invitations), are deleted and the patient row is kept as an anonymised
tombstone, because the audit log, which is never changed, refers to it. Nothing
new is recorded for a tombstone: each service that would add to a patient's
record calls ``refuse_if_purged`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select

from app import audit
from app.audit import Action
from app.authz import Permission, can
from app.extensions import db
from app.models import (
    Amendment,
    AppliedProtocol,
    Consent,
    HealthHistory,
    MissedVisitFee,
    Patient,
    PortalInvite,
    Receipt,
    ReceiptReissue,
    ReceiptVoid,
    RecordCopy,
    RecordRequest,
    RetentionPurge,
    TreatmentSummary,
    User,
    Visit,
)
from app.models.user import new_session_token
from app.oversight.sections import SECTION_LIMIT, Section, section


class PurgeRefused(ValueError):
    """The purge is not allowed; the message says why, for the owner."""


class RecordsPurged(ValueError):
    """A new record for a purged patient (a tombstone) is refused; the message says why."""


ADULT_AGE = 18
PURGED_BIRTH_DATE = date(1900, 1, 1)


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole years; 29 February becomes 1 March (never earlier)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def retention_end(last_visit: date, date_of_birth: date, years: int) -> date:
    """The last day a record must be kept: ``years`` after the last visit, or after
    the 18th birthday when the patient was a minor then, whichever is later."""
    return add_years(max(last_visit, add_years(date_of_birth, ADULT_AGE)), years)


def _latest_before(limit_day: date, years: int, inclusive: bool) -> date:
    """The latest day ``d`` with ``add_years(d, years)`` before (or on) ``limit_day``."""

    def fits(d: date) -> bool:
        moved = add_years(d, years)
        return moved <= limit_day if inclusive else moved < limit_day

    d = add_years(limit_day, -years)
    while not fits(d):
        d -= timedelta(days=1)
    while fits(d + timedelta(days=1)):
        d += timedelta(days=1)
    return d


def retention_cutoffs(today: date, years: int) -> tuple[date, date]:
    """(last visit, date of birth) bounds: a record is past retention on ``today``
    exactly when its last visit is on or before the first and the birth date on or
    before the second. Lets SQL filter with two plain comparisons."""
    last_visit_by = _latest_before(today, years, inclusive=False)
    born_by = _latest_before(last_visit_by, ADULT_AGE, inclusive=True)
    return last_visit_by, born_by


def _purged(patient_id: Any) -> Any:
    return exists().where(RetentionPurge.patient_id == patient_id)


def purge_of(patient: Patient) -> RetentionPurge | None:
    """The patient's purge record, or None while their records are kept (one statement)."""
    return db.session.scalar(select(RetentionPurge).where(RetentionPurge.patient_id == patient.id))


def is_purged(patient: Patient) -> bool:
    """True for a tombstone: the patient's records were purged under the retention rule."""
    return purge_of(patient) is not None


def purged_message(purge: RetentionPurge) -> str:
    return (
        f"The records of patient {purge.patient_id} were purged on "
        f"{purge.purged_at:%Y-%m-%d} under the retention rule (R4); "
        "nothing new can be recorded for this patient."
    )


def refuse_if_purged(patient: Patient, error: type[Exception] = RecordsPurged) -> None:
    """Raise ``error`` (the caller's own refusal type) when ``patient`` was purged.

    Called first by every service that adds to a patient's record: visits, health
    history, consents, receipts, portal invitations and record requests.
    """
    if (purge := purge_of(patient)) is not None:
        raise error(purged_message(purge))


def retention_due(
    clinic_id: int, years: int, today: date, limit: int | None = SECTION_LIMIT
) -> Section:
    """Patients past their retention end and not purged yet (awaiting the owner's review).

    A patient who never had a visit counts from the day they were registered.
    """
    last_visit_by, born_by = retention_cutoffs(today, years)
    next_day = last_visit_by + timedelta(days=1)
    last_start = func.max(Visit.local_start)
    stmt = (
        select(
            Patient.id.label("patient_id"),
            Patient.given_name,
            Patient.family_name,
            Patient.date_of_birth,
            Patient.created_at,
            last_start.label("last_visit"),
        )
        .outerjoin(Visit, Visit.patient_id == Patient.id)
        .where(
            Patient.clinic_id == clinic_id,
            Patient.date_of_birth <= born_by,
            ~_purged(Patient.id),
        )
        .group_by(
            Patient.id,
            Patient.given_name,
            Patient.family_name,
            Patient.date_of_birth,
            Patient.created_at,
        )
        .having(
            or_(
                last_start < datetime.combine(next_day, time.min),
                and_(
                    last_start.is_(None),
                    Patient.created_at < datetime.combine(next_day, time.min, UTC),
                ),
            )
        )
        .order_by(Patient.id)
    )
    found = section(stmt, limit)
    found.rows = [_due_row(row, years) for row in found.rows]
    return found


@dataclass
class DueRecord:
    patient_id: int
    name: str
    date_of_birth: date
    last_visit: date | None
    retention_end: date


def _due_row(row: Any, years: int) -> DueRecord:
    last = row.last_visit.date() if row.last_visit else None
    basis = last or row.created_at.date()
    return DueRecord(
        row.patient_id,
        f"{row.given_name} {row.family_name}",
        row.date_of_birth,
        last,
        retention_end(basis, row.date_of_birth, years),
    )


@dataclass
class RetentionStatus:
    patient: Patient
    last_visit: date | None
    retention_end: date
    purged: RetentionPurge | None

    def purgeable_on(self, today: date) -> bool:
        return self.purged is None and today > self.retention_end


def retention_status(patient: Patient, years: int) -> RetentionStatus:
    """The patient's last visit, retention end and purge record (two statements)."""
    last_start = db.session.scalar(
        select(func.max(Visit.local_start)).where(Visit.patient_id == patient.id)
    )
    last = last_start.date() if last_start else None
    purge = db.session.scalar(select(RetentionPurge).where(RetentionPurge.patient_id == patient.id))
    basis = last or patient.created_at.date()
    return RetentionStatus(patient, last, retention_end(basis, patient.date_of_birth, years), purge)


def _visit_ids(patient_id: int) -> Any:
    return select(Visit.id).where(Visit.patient_id == patient_id)


def _receipt_ids(patient_id: int) -> Any:
    return select(Receipt.id).where(_receipt_of(patient_id))


def _receipt_of(patient_id: int) -> Any:
    return or_(Receipt.patient_id == patient_id, Receipt.visit_id.in_(_visit_ids(patient_id)))


def _request_ids(patient_id: int) -> Any:
    return select(RecordRequest.id).where(RecordRequest.patient_id == patient_id)


def _clinical_rows(patient_id: int) -> list[tuple[str, Any, Any]]:
    """(table, model, condition) of everything purged, children before parents.

    Every table naming the patient or one of their visits, receipts or record
    requests is here, except ``audit_events`` (never changed, R5), the purge
    record itself and ``users`` (the portal account is deactivated and
    anonymised instead: records name users).
    """
    visits, receipts = _visit_ids(patient_id), _receipt_ids(patient_id)
    requests = _request_ids(patient_id)
    return [
        # R6 copies of the whole record (PDF and JSON), their requests, and invitations.
        (
            "record_copies",
            RecordCopy,
            or_(RecordCopy.patient_id == patient_id, RecordCopy.request_id.in_(requests)),
        ),
        ("record_requests", RecordRequest, RecordRequest.patient_id == patient_id),
        ("portal_invites", PortalInvite, PortalInvite.patient_id == patient_id),
        ("applied_protocols", AppliedProtocol, AppliedProtocol.visit_id.in_(visits)),
        ("amendments", Amendment, Amendment.visit_id.in_(visits)),
        ("receipt_reissues", ReceiptReissue, ReceiptReissue.receipt_id.in_(receipts)),
        ("receipt_voids", ReceiptVoid, ReceiptVoid.receipt_id.in_(receipts)),
        ("receipts", Receipt, _receipt_of(patient_id)),
        (
            "missed_visit_fees",
            MissedVisitFee,
            or_(MissedVisitFee.patient_id == patient_id, MissedVisitFee.visit_id.in_(visits)),
        ),
        ("treatment_summaries", TreatmentSummary, TreatmentSummary.patient_id == patient_id),
        # A sensitive-area consent also names its visit.
        ("consents", Consent, or_(Consent.patient_id == patient_id, Consent.visit_id.in_(visits))),
        ("health_histories", HealthHistory, HealthHistory.patient_id == patient_id),
        ("visits", Visit, Visit.patient_id == patient_id),
    ]


def record_counts(patient_id: int) -> dict[str, int]:
    """How many rows of each clinical table the patient has (one statement)."""
    rows = _clinical_rows(patient_id)
    counts = [
        select(func.count()).select_from(model).where(cond).scalar_subquery()
        for _, model, cond in rows
    ]
    values = db.session.execute(select(*counts)).one()
    return {name: int(n) for (name, _, _), n in zip(rows, values, strict=True)}


def purge_patient(patient: Patient, owner: User, years: int, today: date) -> RetentionPurge:
    """Delete the patient's clinical records after their retention end; keep a tombstone.

    Refused before the end (on the end day too), for anyone but an owner of the
    patient's clinic, and for a patient already purged. Adds the purge record,
    the deletes, the anonymised patient row and the audit event to the session.
    """
    if not can(owner, Permission.RECORDS_PURGE) or owner.clinic_id != patient.clinic_id:
        raise PurgeRefused("Only an owner of the patient's clinic can purge records.")
    status = retention_status(patient, years)
    if status.purged is not None:
        raise PurgeRefused("These records were purged already.")
    if not status.purgeable_on(today):
        raise PurgeRefused(
            f"These records must be kept until {status.retention_end.isoformat()} (R4); "
            "nothing can be purged before then."
        )
    counts = record_counts(patient.id)
    purge = RetentionPurge(
        clinic_id=patient.clinic_id, patient_id=patient.id, approved_by_id=owner.id,
        last_visit_on=status.last_visit, retention_end=status.retention_end, counts=counts,
    )  # fmt: skip
    db.session.add(purge)
    db.session.flush()  # the triggers allow the deletes only once this row exists
    from app.oversight import flags  # flags reads retention_end from here

    flags.touch_purge(patient)  # the bulk deletes below bypass the ORM's notice
    for name, model, cond in _clinical_rows(patient.id):
        result = db.session.execute(
            delete(model).where(cond).execution_options(synchronize_session=False)
        )
        if result.rowcount != counts[name]:
            raise PurgeRefused(f"{name} changed while purging; nothing was purged. Try again.")
    _anonymise(patient)
    audit.record(
        Action.PATIENT_PURGE, patient, actor=owner, purge=purge.id, counts=counts,
        last_visit=status.last_visit.isoformat() if status.last_visit else None,
        retention_end=status.retention_end.isoformat(),
    )  # fmt: skip
    return purge


def _anonymise(patient: Patient) -> None:
    """Keep the row (the audit log refers to it) with nothing that identifies anyone."""
    patient.given_name = "Purged"
    patient.family_name = f"record {patient.id}"
    patient.date_of_birth = PURGED_BIRTH_DATE
    for name in (
        "preferred_name", "phone", "email", "address", "emergency_contact_name",
        "emergency_contact_phone", "insurer", "policy_number", "referral_physician",
    ):  # fmt: skip
        setattr(patient, name, "")
    patient.referral_on_file = False
    patient.referral_date = None
    # The portal account stays (the audit log names it) but can no longer sign in,
    # is signed out everywhere and no longer carries the patient's name or email.
    for account in db.session.scalars(select(User).where(User.patient_id == patient.id)):
        account.active = False
        account.session_token = new_session_token()
        account.full_name = patient.full_name
        account.email = f"purged-account-{account.id}@invalid"
    db.session.flush()
