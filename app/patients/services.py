"""Patient logic: register, update, search, health history, consent. No request here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import aliased

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import (
    ATTENDED,
    SIGNED,
    Consent,
    HealthHistory,
    MissedVisitFee,
    Patient,
    Receipt,
    ReceiptReissue,
    ReceiptVoid,
    RetentionPurge,
    User,
    Visit,
)
from app.models.types import digits, fold, phone_key
from app.oversight.retention import refuse_if_purged

if TYPE_CHECKING:
    from app.visits.services import VisitLine, VisitPage

PATIENT_FIELDS = (
    "given_name", "family_name", "preferred_name", "date_of_birth", "phone", "email",
    "address", "emergency_contact_name", "emergency_contact_phone", "insurer",
    "policy_number", "referral_on_file", "referral_date", "referral_physician",
)  # fmt: skip


def register_patient(clinic_id: int, data: dict[str, Any]) -> Patient:
    """Create a patient in ``clinic_id`` from form data."""
    patient = Patient(clinic_id=clinic_id, **{k: data[k] for k in PATIENT_FIELDS if k in data})
    if not patient.referral_on_file:
        patient.referral_date = None
    db.session.add(patient)
    db.session.flush()
    audit.record(Action.PATIENT_CREATE, patient)
    return patient


def update_patient(patient: Patient, data: dict[str, Any]) -> list[str]:
    """Apply changed demographics; audit the names of the fields that changed."""
    if not data.get("referral_on_file"):
        data = {**data, "referral_date": None}
    changed = [k for k in PATIENT_FIELDS if k in data and getattr(patient, k) != data[k]]
    for name in changed:
        setattr(patient, name, data[name])
    if changed:
        audit.record(Action.PATIENT_UPDATE, patient, fields=changed)
    return changed


def _prefix_range(column: Any, prefix: str) -> Any:
    """``column`` starts with ``prefix``, as a range an ordinary index can serve."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


def _parse_date(text: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class SearchResult:
    patients: list[Patient]
    kind: str  # "name", "phone", "date of birth", "all"
    has_more: bool


def search_patients(clinic_id: int, query: str, limit: int = 50) -> SearchResult:
    """Find patients by name prefix, phone digits or date of birth (YYYY-MM-DD)."""
    query = query.strip()
    base = select(Patient).where(Patient.clinic_id == clinic_id)
    order = (Patient.family_key, Patient.given_key, Patient.id)
    if not query:
        stmt, kind = base, "all"
    elif (dob := _parse_date(query)) is not None:
        stmt, kind = base.where(Patient.date_of_birth == dob), "date of birth"
    elif not re.search(r"[^\d\s().+-]", query) and len(digits(query)) >= 3:
        number = phone_key(query)
        stmt, kind = base.where(_prefix_range(Patient.phone_digits, number)), "phone"
    else:
        tokens = fold(query).split()
        first, rest = tokens[0], tokens[1:]
        keys = (Patient.family_key, Patient.given_key, Patient.preferred_key)
        stmt = base.where(or_(*(_prefix_range(k, first) for k in keys)))
        for token in rest:
            stmt = stmt.where(or_(*(_prefix_range(k, token) for k in keys)))
        kind = "name"
    rows = list(db.session.scalars(stmt.order_by(*order).limit(limit + 1)))
    return SearchResult(rows[:limit], kind, len(rows) > limit)


def current_history(patient: Patient) -> HealthHistory | None:
    return db.session.scalar(
        select(HealthHistory)
        .where(HealthHistory.patient_id == patient.id)
        .order_by(HealthHistory.version.desc())
        .limit(1)
    )


def add_health_history(patient: Patient, user: User, data: dict[str, Any]) -> HealthHistory:
    """Record a new dated version of the health history; earlier ones stay as they were."""
    refuse_if_purged(patient)
    latest = db.session.scalar(
        select(func.max(HealthHistory.version)).where(HealthHistory.patient_id == patient.id)
    )
    entry = HealthHistory(
        patient_id=patient.id,
        version=(latest or 0) + 1,
        recorded_by_id=user.id,
        conditions=sorted(set(data.get("conditions") or [])),
        medications=data.get("medications") or "",
        allergies=data.get("allergies") or "",
        surgeries=data.get("surgeries") or "",
        notes=data.get("notes") or "",
    )
    db.session.add(entry)
    db.session.flush()
    audit.record(
        Action.HISTORY_CREATE, entry, patient=patient, version=entry.version,
        conditions=entry.conditions,
    )  # fmt: skip
    return entry


def record_consent(patient: Patient, user: User, data: dict[str, Any]) -> Consent:
    """Record a documented treatment consent for ``patient``."""
    refuse_if_purged(patient)
    consent = Consent(
        patient_id=patient.id,
        kind="treatment",
        given_on=data["given_on"],
        method=data["method"],
        elements=sorted(data["elements"]),
        notes=data.get("notes") or "",
        recorded_by_id=user.id,
    )
    db.session.add(consent)
    db.session.flush()
    audit.record(Action.CONSENT_CREATE, consent, patient=patient, method=consent.method)
    return consent


def current_consent(patient: Patient) -> Consent | None:
    return db.session.scalar(
        select(Consent)
        .where(Consent.patient_id == patient.id, Consent.kind == "treatment")
        .order_by(Consent.given_on.desc(), Consent.id.desc())
        .limit(1)
    )


def history_versions(patient: Patient) -> list[HealthHistory]:
    return list(
        db.session.scalars(
            select(HealthHistory)
            .where(HealthHistory.patient_id == patient.id)
            .order_by(HealthHistory.version.desc())
        )
    )


# ---- the chart (patient page) ------------------------------------------------------
#
# The chart reads columns, not ORM objects: loading, identity-mapping and then expiring
# entities (the audit commit expires everything loaded) cost more than the page itself.
# Each statement is built once and run on the session's connection (Core, not the ORM's
# execute path: these are plain rows). docs/performance.md has the figures.


@dataclass(frozen=True, slots=True)
class ChartConsent:
    given_on: date
    method: str
    recorded_by_name: str
    complete: bool


@dataclass(frozen=True, slots=True)
class ChartHistory:
    """The current health history, as the chart shows it."""

    version: int
    recorded_at: datetime
    conditions: list[str]
    medications: str
    allergies: str
    surgeries: str
    notes: str
    recorded_by_name: str


@dataclass(frozen=True, slots=True)
class ChartPurge:
    purged_at: datetime


@dataclass(frozen=True, slots=True)
class ChartHeader:
    """The patient, their purge if any, current health history and treatment consent, and
    whether they owe any missed-visit fee (most do not: the Receipts section then skips
    that statement)."""

    patient: Patient
    purge: ChartPurge | None
    history: ChartHistory | None
    consent: ChartConsent | None
    has_missed_fees: bool


def _latest(model: Any, *where: Any, order: tuple[Any, ...]) -> Any:
    """The id of the patient's latest ``model`` row, correlated to the outer patient."""
    return (
        select(model.id)
        .where(model.patient_id == Patient.id, *where)
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )


@cache
def _header_statement(clinical: bool) -> Any:
    """Patient, purge, consent (and, for clinical roles, health history) in one statement.

    The latest consent and history are joined on a correlated ``id = (SELECT … LIMIT 1)``,
    which both databases answer from the (patient_id, …) indexes.
    """
    consent, consent_by = aliased(Consent), aliased(User)
    columns: list[Any] = [
        Patient, RetentionPurge.purged_at, consent.given_on, consent.method, consent.elements,
        consent.withdrawn, consent_by.full_name,
        exists().where(MissedVisitFee.patient_id == Patient.id).label("has_missed_fees"),
    ]  # fmt: skip
    stmt = (
        select(*columns)
        .outerjoin(RetentionPurge, RetentionPurge.patient_id == Patient.id)
        .outerjoin(
            consent,
            consent.id
            == _latest(
                Consent,
                Consent.kind == "treatment",
                order=(Consent.given_on.desc(), Consent.id.desc()),
            ),
        )
        .outerjoin(consent_by, consent_by.id == consent.recorded_by_id)
        .where(Patient.id == bindparam("patient_id"), Patient.clinic_id == bindparam("clinic_id"))
    )
    if clinical:
        history, history_by = aliased(HealthHistory), aliased(User)
        stmt = (
            stmt.add_columns(
                history.version, history.recorded_at, history.conditions, history.medications,
                history.allergies, history.surgeries, history.notes, history_by.full_name,
            )
            .outerjoin(
                history,
                history.id == _latest(HealthHistory, order=(HealthHistory.version.desc(),)),
            )
            .outerjoin(history_by, history_by.id == history.recorded_by_id)
        )  # fmt: skip
    return stmt


def chart_header(patient_id: int, clinic_id: int, clinical: bool) -> ChartHeader | None:
    """The top of the chart in one statement, or None when ``patient_id`` is not a patient
    of ``clinic_id`` (the same scope as ``authz.get_or_404``)."""
    row = db.session.execute(
        _header_statement(clinical), {"patient_id": patient_id, "clinic_id": clinic_id}
    ).first()
    if row is None:
        return None
    patient, purged_at, given_on, method, elements, withdrawn, consent_by, missed = row[:8]
    consent = None
    if given_on is not None:
        complete = Consent.complete.fget(SimpleNamespace(withdrawn=withdrawn, elements=elements))
        consent = ChartConsent(given_on, method, consent_by, complete)
    history = ChartHistory(*row[8:]) if clinical and row[8] is not None else None
    purge = ChartPurge(purged_at) if purged_at is not None else None
    return ChartHeader(patient, purge, history, consent, bool(missed))


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__
class ReceiptLine:
    """One receipt in the chart's Receipts section."""

    id: int
    visit_id: int
    number: int
    service_date: date
    service_start: Any
    therapist_name: str
    therapist_designation: str
    total_cents: int
    payment_method: str
    is_void: bool
    reissue_count: int

    number_label = Receipt.number_label
    payment_label = Receipt.payment_label

    @property
    def start_label(self) -> str:
        """The start time as the chart shows it, e.g. 09:30."""
        return f"{self.service_start.hour:02d}:{self.service_start.minute:02d}"


@dataclass(frozen=True, slots=True)
class MissedFeeLine:
    recorded_at: datetime
    attendance: str
    total_cents: int
    payment_method: str

    payment_label = MissedVisitFee.payment_label


RECEIPTS_SHOWN = 50  # the chart lists the patient's latest 50 receipts
UNBILLED_SHOWN = 20


@cache
def _receipt_statements() -> tuple[Any, Any, Any]:
    from app.visits.services import VISIT_LINE_COLUMNS  # visits.services imports this module

    receipts = (
        select(
            Receipt.id, Receipt.visit_id, Receipt.number, Receipt.service_date,
            Receipt.service_start, Receipt.therapist_name, Receipt.therapist_designation,
            Receipt.total_cents, Receipt.payment_method,
            exists().where(ReceiptVoid.receipt_id == Receipt.id).label("is_void"),
            select(func.count(ReceiptReissue.id))
            .where(ReceiptReissue.receipt_id == Receipt.id)
            .scalar_subquery()
            .label("reissue_count"),
        )
        .where(Receipt.patient_id == bindparam("patient_id"))
        .order_by(Receipt.service_date.desc(), Receipt.number.desc())
        .limit(RECEIPTS_SHOWN)
    )  # fmt: skip
    # Signed, attended visits with no receipt that is still valid (receipts.services).
    live = (
        select(Receipt.visit_id)
        .outerjoin(ReceiptVoid, ReceiptVoid.receipt_id == Receipt.id)
        .where(Receipt.patient_id == bindparam("patient_id"), ReceiptVoid.id.is_(None))
    )
    unbilled = (
        select(*VISIT_LINE_COLUMNS)
        .join(User, User.id == Visit.therapist_id)
        .where(
            Visit.patient_id == bindparam("patient_id"),
            Visit.status == SIGNED,
            Visit.attendance == ATTENDED,
            Visit.id.not_in(live),
        )
        .order_by(Visit.local_start.desc(), Visit.id.desc())
        .limit(UNBILLED_SHOWN)
    )
    missed = (
        select(
            MissedVisitFee.recorded_at, MissedVisitFee.attendance, MissedVisitFee.total_cents,
            MissedVisitFee.payment_method,
        )
        .where(MissedVisitFee.patient_id == bindparam("patient_id"))
        .order_by(MissedVisitFee.recorded_at.desc())
    )  # fmt: skip
    return receipts, unbilled, missed


def _unbilled_on_page(visit_page: VisitPage, receipts: list[ReceiptLine]) -> list[VisitLine] | None:
    """The signed, attended visits without a valid receipt, read off the chart's first
    page of visits and the visits read past it when these are every visit, and
    ``receipts`` every receipt, of the patient (most patients); else None: the caller
    asks the database."""
    if not visit_page.complete or len(receipts) >= RECEIPTS_SHOWN:
        return None
    billed = {r.visit_id for r in receipts if not r.is_void}
    unbilled = [
        v for v in (*visit_page.visits, *visit_page.beyond)
        if v.status == SIGNED and v.attendance == ATTENDED and v.id not in billed
    ]  # fmt: skip
    return unbilled[:UNBILLED_SHOWN]


def chart_receipts(
    patient: Patient, visit_page: VisitPage, has_missed_fees: bool
) -> dict[str, list[Any]]:
    """The chart's Receipts section (the patient's receipts, signed visits without one,
    missed-visit fees) as plain rows: one to three statements.

    ``visit_page`` is the chart's page of visits (``visits.services.patient_visits``):
    when it holds every visit, the unbilled ones are read off it; ``has_missed_fees``
    comes with the chart header and spares the fees' statement when there are none.
    """
    from app.visits.services import VisitLine

    receipts_stmt, unbilled_stmt, missed_stmt = _receipt_statements()
    params = {"patient_id": patient.id}
    conn = db.session.connection()
    receipts = [ReceiptLine(*r) for r in conn.execute(receipts_stmt, params)]
    unbilled = _unbilled_on_page(visit_page, receipts)
    if unbilled is None:
        unbilled = [VisitLine(*r) for r in conn.execute(unbilled_stmt, params)]
    missed = []
    if has_missed_fees:
        missed = [MissedFeeLine(*r) for r in conn.execute(missed_stmt, params)]
    return {"receipts": receipts, "unbilled": unbilled, "missed": missed}
