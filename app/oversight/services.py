"""The compliance dashboard's rules (B7, R5, and R4 from ``retention``). No request here.

Each rule is one set-based SELECT limited to one clinic, over its whole history.
The functions here run a rule and return at most ``limit`` rows and, through a
window ``COUNT(*) OVER ()``, how many it found in all: the full check, the CLI and
the tests use them. The dashboard reads the findings the rules stored
(``app.oversight.flags`` keeps them current, ``findings`` reads them), so its cost
does not grow with the history; only the draft-notes and chart-snooping rules,
which look at a bounded slice (drafts, a recent window), run on every view.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Date, Select, and_, distinct, exists, func, or_, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (
    ATTENDED,
    DRAFT,
    SIGNED,
    Amendment,
    AuditEvent,
    ComplianceSettings,
    Patient,
    Receipt,
    ReceiptReissue,
    ReceiptVoid,
    Role,
    User,
    Visit,
)
from app.models.oversight import SNOOP_MIN_PATIENTS, SNOOP_WINDOW_DAYS, WORKING_DAY_MINUTES
from app.oversight.sections import SECTION_LIMIT, Section, section
from app.visits.services import OVERDUE_AFTER

UNBILLED_AFTER = timedelta(days=1)
REISSUE_LIMIT = 2  # more reprints than this are listed
# Audit actions that open a chart (R5): demographics, notes, health history.
CHART_VIEWS = ("patient:view", "visit:view", "health_history:view")
SETTING_FIELDS = ("working_day_minutes", "snoop_min_patients", "snoop_window_days")


# Settings ----------------------------------------------------------------------


def settings_for(clinic_id: int) -> ComplianceSettings:
    """The clinic's thresholds; an unsaved row with the defaults when none is stored."""
    row = db.session.get(ComplianceSettings, clinic_id)
    return row or ComplianceSettings(
        clinic_id=clinic_id,
        working_day_minutes=WORKING_DAY_MINUTES,
        snoop_min_patients=SNOOP_MIN_PATIENTS,
        snoop_window_days=SNOOP_WINDOW_DAYS,
    )


def update_settings(clinic_id: int, data: dict[str, int]) -> list[str]:
    """Store the thresholds; return the names of the ones that changed."""
    row = settings_for(clinic_id)
    db.session.add(row)
    changed = []
    for name in SETTING_FIELDS:
        if name in data and data[name] != getattr(row, name):
            setattr(row, name, data[name])
            changed.append(name)
    db.session.flush()
    return changed


# Dashboard rules ---------------------------------------------------------------


@cache
def alias(model: Any, name: str) -> Any:
    """``aliased(model, name=name)``, made once, on first use, not at import: aliasing a
    mapped class configures every mapper (~0.1 s that would otherwise be part of
    ``create_app()``) and adapts all its columns (docs/performance.md)."""
    return aliased(model, name=name)


def _rule_patient() -> Any:
    return alias(Patient, "rule_patient")


def _rule_therapist() -> Any:
    return alias(User, "rule_therapist")


def _visit_section(conditions: list[Any], limit: int | None, *, newest_first: bool) -> Section:
    """Visits that meet ``conditions``, with their patient's and therapist's names.

    The visits are chosen, ordered, counted and limited in a subquery of the
    visits table alone, so the rule's own index drives it; the names are joined
    to the chosen rows only. (Joined first, SQLite may walk every patient.)
    """
    patient, therapist = _rule_patient(), _rule_therapist()
    chosen = select(
        Visit.id, Visit.local_start, Visit.duration_minutes, Visit.patient_id, Visit.therapist_id,
        func.count().over().label("total_rows"),
    ).where(*conditions)  # fmt: skip
    start = Visit.local_start.desc() if newest_first else Visit.local_start
    chosen = chosen.order_by(start, Visit.id)
    chosen = (chosen.limit(limit) if limit is not None else chosen).subquery("chosen")
    stmt = (
        select(
            chosen.c.id.label("visit_id"),
            chosen.c.local_start,
            chosen.c.duration_minutes,
            chosen.c.patient_id,
            (patient.given_name + " " + patient.family_name).label("patient_name"),
            therapist.full_name.label("therapist_name"),
            chosen.c.total_rows,
        )
        .join(patient, patient.id == chosen.c.patient_id)
        .join(therapist, therapist.id == chosen.c.therapist_id)
    )
    outer = chosen.c.local_start.desc() if newest_first else chosen.c.local_start
    rows = list(db.session.execute(stmt.order_by(outer, chosen.c.id)).all())
    return Section(rows, rows[0].total_rows if rows else 0)


def unsigned_notes(
    clinic_id: int, now_local: datetime, limit: int | None = SECTION_LIMIT
) -> Section:
    """Draft notes of attended visits that started more than 48 hours ago."""
    conditions = [
        Visit.clinic_id == clinic_id,
        Visit.status == DRAFT,
        Visit.attendance == ATTENDED,
        Visit.local_start < now_local - OVERDUE_AFTER,
    ]
    return _visit_section(conditions, limit, newest_first=False)


# Each rule is a statement builder taking extra conditions, so the same rule checks
# the whole history (the full check) or only what one write touched
# (``app.oversight.flags``); the dashboard reads the stored findings
# (``app.oversight.findings``). The section functions next to each builder
# (``overlapping_visits`` and the like) read a rule straight off the history: the tests
# of the rules use them. ``first_visit`` and ``second_visit`` name the two visits of an
# overlap in such conditions.
def first_visit() -> Any:
    return alias(Visit, "first_visit")


def second_visit() -> Any:
    return alias(Visit, "second_visit")


def overlaps_stmt(clinic_id: int, *where: Any) -> Select[Any]:
    """Pairs of attended visits of one therapist whose times overlap (touching is fine).

    Each pair is found once, from the visit that starts first: the other one then
    starts inside it, a range the (clinic, therapist, start) index answers.
    """
    first, second = first_visit(), second_visit()
    return (
        select(
            first.id.label("first_id"),
            first.local_start.label("first_start"),
            first.local_end.label("first_end"),
            second.id.label("second_id"),
            second.local_start.label("second_start"),
            second.local_end.label("second_end"),
            _rule_therapist().full_name.label("therapist_name"),
            first.therapist_id,
            first.patient_id,
        )
        .join(
            second,
            and_(
                second.clinic_id == first.clinic_id,
                second.therapist_id == first.therapist_id,
                second.local_start >= first.local_start,
                second.local_start < first.local_end,
                second.id != first.id,
                or_(second.local_start > first.local_start, second.id > first.id),
            ),
        )
        .join(_rule_therapist(), _rule_therapist().id == first.therapist_id)
        .where(
            first.clinic_id == clinic_id,
            first.attendance == ATTENDED,
            second.attendance == ATTENDED,
            *where,
        )
        .order_by(first.local_start.desc(), first.id)
    )


def overlapping_visits(clinic_id: int, limit: int | None = SECTION_LIMIT) -> Section:
    """Every pair of overlapping visits in the clinic's history."""
    return section(overlaps_stmt(clinic_id), limit)


def overbooked_stmt(clinic_id: int, working_day_minutes: int, *where: Any) -> Select[Any]:
    """Therapist-days whose attended visits add up to more minutes than a working day."""
    day = func.date(Visit.local_start, type_=Date)
    minutes = func.sum(Visit.duration_minutes)
    return (
        select(
            Visit.therapist_id,
            _rule_therapist().full_name.label("therapist_name"),
            day.label("day"),
            minutes.label("minutes"),
            func.count(Visit.id).label("visits"),
            func.min(Visit.id).label("visit_id"),
        )
        .join(_rule_therapist(), _rule_therapist().id == Visit.therapist_id)
        .where(Visit.clinic_id == clinic_id, Visit.attendance == ATTENDED, *where)
        .group_by(Visit.therapist_id, _rule_therapist().full_name, day)
        .having(minutes > working_day_minutes)
        .order_by(day.desc(), Visit.therapist_id)
    )


def overbooked_days(
    clinic_id: int, working_day_minutes: int, limit: int | None = SECTION_LIMIT
) -> Section:
    """Every overbooked therapist-day in the clinic's history."""
    return section(overbooked_stmt(clinic_id, working_day_minutes), limit)


def amended_stmt(clinic_id: int, *where: Any) -> Select[Any]:
    """Visits whose note gained an amendment after a receipt for it was issued."""
    return (
        select(
            Receipt.visit_id,
            Receipt.patient_id,
            # A visit may have several receipts (one voided, one in force) with names
            # spelled differently; the visit is one finding all the same.
            func.max(Receipt.patient_name).label("patient_name"),
            func.max(Receipt.therapist_name).label("therapist_name"),
            func.min(Receipt.id).label("receipt_id"),
            func.min(Receipt.number).label("receipt_number"),
            func.min(Receipt.issued_at).label("issued_at"),
            func.max(Amendment.created_at).label("amended_at"),
            func.count(distinct(Amendment.id)).label("amendments"),
        )
        .join(
            Amendment,
            and_(Amendment.visit_id == Receipt.visit_id, Amendment.created_at > Receipt.issued_at),
        )
        .where(Receipt.clinic_id == clinic_id, *where)
        .group_by(Receipt.visit_id, Receipt.patient_id)
        .order_by(func.max(Amendment.created_at).desc(), Receipt.visit_id)
    )


def amended_after_receipt(clinic_id: int, limit: int | None = SECTION_LIMIT) -> Section:
    """Every note amended after its receipt, in the clinic's history."""
    return section(amended_stmt(clinic_id), limit)


def reissued_stmt(clinic_id: int, *where: Any) -> Select[Any]:
    """Receipts printed as a DUPLICATE more than twice."""
    copies = func.count(ReceiptReissue.id)
    return (
        select(
            Receipt.id.label("receipt_id"),
            Receipt.number,
            Receipt.patient_id,
            Receipt.patient_name,
            Receipt.therapist_name,
            Receipt.service_date,
            copies.label("reissues"),
            func.max(ReceiptReissue.reissued_at).label("last_reissued_at"),
        )
        .join(ReceiptReissue, ReceiptReissue.receipt_id == Receipt.id)
        .where(Receipt.clinic_id == clinic_id, *where)
        .group_by(
            Receipt.id,
            Receipt.number,
            Receipt.patient_id,
            Receipt.patient_name,
            Receipt.therapist_name,
            Receipt.service_date,
        )
        .having(copies > REISSUE_LIMIT)
        .order_by(copies.desc(), Receipt.number)
    )


def reissued_often(clinic_id: int, limit: int | None = SECTION_LIMIT) -> Section:
    """Every receipt reissued more than twice, in the clinic's history."""
    return section(reissued_stmt(clinic_id), limit)


def unbilled_conditions(clinic_id: int) -> list[Any]:
    """Signed, attended visits with no receipt in force (none issued, or all void)."""
    in_force = (
        select(Receipt.id)
        .where(Receipt.visit_id == Visit.id)
        .where(~exists().where(ReceiptVoid.receipt_id == Receipt.id))
    )
    return [
        Visit.clinic_id == clinic_id,
        Visit.status == SIGNED,
        Visit.attendance == ATTENDED,
        ~in_force.exists(),
    ]


def visits_without_receipt(
    clinic_id: int, now_local: datetime, limit: int | None = SECTION_LIMIT
) -> Section:
    """Signed, attended visits older than a day with no receipt in force (none, or all void)."""
    conditions = [*unbilled_conditions(clinic_id), Visit.local_start < now_local - UNBILLED_AFTER]
    return _visit_section(conditions, limit, newest_first=True)


# What a receipt without a signed visit is listed with, here and on the dashboard.
ORPHAN_COLUMNS = (
    Receipt.id.label("receipt_id"), Receipt.number, Receipt.visit_id, Receipt.patient_id,
    Receipt.patient_name, Receipt.therapist_name, Visit.status, Visit.attendance,
)  # fmt: skip


def orphans_stmt(clinic_id: int, *where: Any) -> Select[Any]:
    """Receipts whose visit is not a signed, attended visit of the same patient and RMT.

    The receipt guards (service, ORM and database triggers) make this impossible;
    the rule proves it stays so.
    """
    return (
        select(*ORPHAN_COLUMNS)
        .join(Visit, Visit.id == Receipt.visit_id)
        .where(
            Receipt.clinic_id == clinic_id,
            or_(
                Visit.status != SIGNED,
                Visit.attendance != ATTENDED,
                Visit.patient_id != Receipt.patient_id,
                Visit.therapist_id != Receipt.therapist_id,
                Visit.clinic_id != Receipt.clinic_id,
            ),
            *where,
        )
        .order_by(Receipt.number)
    )


def receipts_without_signed_visit(clinic_id: int, limit: int | None = SECTION_LIMIT) -> Section:
    """Every receipt without a signed visit, in the clinic's history (should be none)."""
    return section(orphans_stmt(clinic_id), limit)


def chart_snooping(
    clinic_id: int,
    now: datetime,
    min_patients: int = SNOOP_MIN_PATIENTS,
    window_days: int = SNOOP_WINDOW_DAYS,
    limit: int | None = SECTION_LIMIT,
) -> Section:
    """Staff who opened the charts of ``min_patients`` or more patients they never treated.

    Only chart views are read: the window starts at the id of its first event (ids
    follow time), so the (clinic, action, id) index gives just the window's chart
    views, however busy the clinic is with other events.
    """
    since = now - timedelta(days=window_days)
    first_id = (
        select(AuditEvent.id)
        .where(AuditEvent.clinic_id == clinic_id, AuditEvent.created_at >= since)
        .order_by(AuditEvent.created_at)
        .limit(1)
        .scalar_subquery()
    )
    treated = exists().where(
        Visit.patient_id == AuditEvent.patient_id, Visit.therapist_id == AuditEvent.actor_id
    )
    patients = func.count(distinct(AuditEvent.patient_id))
    stmt = (
        select(
            AuditEvent.actor_id,
            User.full_name,
            User.role,
            patients.label("patients"),
            func.count(AuditEvent.id).label("views"),
            func.max(AuditEvent.created_at).label("last_at"),
        )
        .join(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.clinic_id == clinic_id,
            AuditEvent.action.in_(CHART_VIEWS),
            AuditEvent.id >= first_id,
            AuditEvent.created_at >= since,
            AuditEvent.patient_id.is_not(None),
            User.role != Role.PATIENT.value,
            ~treated,
        )
        .group_by(AuditEvent.actor_id, User.full_name, User.role)
        .having(patients >= min_patients)
        .order_by(patients.desc(), AuditEvent.actor_id)
    )
    return section(stmt, limit)
