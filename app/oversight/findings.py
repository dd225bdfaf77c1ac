"""The compliance dashboard, read from the stored findings (B7, R4, R5). No request here.

Each section is one statement: the rule's first due flags (``flags.chosen``) with
their count, joined to the visits, receipts and people they name. Two rules are
run as they are, because what they read stays small however long the history:
draft notes (only drafts) and chart snooping (a recent window of chart views).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import ComplianceSettings, Patient, Receipt, User, Visit
from app.oversight import flags, services
from app.oversight.retention import DueRecord
from app.oversight.sections import SECTION_LIMIT, Section


@dataclass
class Dashboard:
    settings: ComplianceSettings
    sections: dict[str, Section] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return sum(s.total for s in self.sections.values())

    @property
    def over_cap(self) -> bool:
        return any(s.over_cap for s in self.sections.values())


def _section(stmt: Any, *, rows: Any = None) -> Section:
    found = list(db.session.execute(stmt).all())
    total = found[0].total_rows if found else 0
    return Section(rows(found) if rows else found, total, flags.COUNT_CAP)


def _aliases() -> tuple[Any, Any, Any]:
    """The two visits of an overlap and the therapist a flag names (``services.alias``)."""
    return services.first_visit(), services.second_visit(), services.alias(User, "flag_therapist")


def overlaps(clinic_id: int, now_local: datetime, limit: int = SECTION_LIMIT) -> Section:
    c = flags.chosen(clinic_id, "overlaps", now_local, limit).c
    first, second, therapist = _aliases()
    stmt = (
        select(
            c.subject_id.label("first_id"),
            first.local_start.label("first_start"),
            first.local_end.label("first_end"),
            c.other_id.label("second_id"),
            second.local_start.label("second_start"),
            second.local_end.label("second_end"),
            therapist.full_name.label("therapist_name"),
            c.total_rows,
        )
        .join(first, first.id == c.subject_id)
        .join(second, second.id == c.other_id)
        .join(therapist, therapist.id == c.therapist_id)
        .order_by(*flags.listing_order("overlaps", c))
    )
    return _section(stmt)


def overbooked(clinic_id: int, now_local: datetime, limit: int = SECTION_LIMIT) -> Section:
    c = flags.chosen(clinic_id, "overbooked", now_local, limit).c
    therapist = _aliases()[2]
    stmt = (
        select(
            c.therapist_id,
            therapist.full_name.label("therapist_name"),
            c.day,
            c.amount.label("minutes"),
            c.tally.label("visits"),
            c.subject_id.label("visit_id"),
            c.total_rows,
        )
        .join(therapist, therapist.id == c.therapist_id)
        .order_by(*flags.listing_order("overbooked", c))
    )
    return _section(stmt)


def amended(clinic_id: int, now_local: datetime, limit: int = SECTION_LIMIT) -> Section:
    c = flags.chosen(clinic_id, "amended", now_local, limit).c
    stmt = (
        select(
            c.subject_id.label("visit_id"),
            c.patient_id,
            Receipt.patient_name,
            Receipt.therapist_name,
            Receipt.id.label("receipt_id"),
            Receipt.number.label("receipt_number"),
            Receipt.issued_at,
            c.sort_at.label("amended_at"),
            c.tally.label("amendments"),
            c.total_rows,
        )
        .join(Receipt, Receipt.id == c.other_id)
        .order_by(*flags.listing_order("amended", c))
    )
    return _section(stmt)


def reissued(clinic_id: int, now_local: datetime, limit: int = SECTION_LIMIT) -> Section:
    c = flags.chosen(clinic_id, "reissued", now_local, limit).c
    stmt = (
        select(
            Receipt.id.label("receipt_id"),
            Receipt.number,
            Receipt.patient_id,
            Receipt.patient_name,
            Receipt.therapist_name,
            Receipt.service_date,
            c.tally.label("reissues"),
            c.sort_at.label("last_reissued_at"),
            c.total_rows,
        )
        .join(Receipt, Receipt.id == c.subject_id)
        .order_by(*flags.listing_order("reissued", c))
    )
    return _section(stmt)


def unbilled(clinic_id: int, now_local: datetime, limit: int = SECTION_LIMIT) -> Section:
    c = flags.chosen(clinic_id, "unbilled", now_local, limit).c
    therapist = _aliases()[2]
    stmt = (
        select(
            c.subject_id.label("visit_id"),
            Visit.local_start,
            Visit.duration_minutes,
            c.patient_id,
            (Patient.given_name + " " + Patient.family_name).label("patient_name"),
            therapist.full_name.label("therapist_name"),
            c.total_rows,
        )
        .join(Visit, Visit.id == c.subject_id)
        .join(Patient, Patient.id == c.patient_id)
        .join(therapist, therapist.id == c.therapist_id)
        .order_by(*flags.listing_order("unbilled", c))
    )
    return _section(stmt)


def orphan_receipts(clinic_id: int, now_local: datetime, limit: int = SECTION_LIMIT) -> Section:
    c = flags.chosen(clinic_id, "orphan_receipts", now_local, limit).c
    stmt = (
        select(*services.ORPHAN_COLUMNS, c.total_rows)
        .join(Receipt, Receipt.id == c.subject_id)
        .join(Visit, Visit.id == Receipt.visit_id)
        .order_by(*flags.listing_order("orphan_receipts", c))
    )
    return _section(stmt)


def retention(clinic_id: int, now_local: datetime, limit: int = SECTION_LIMIT) -> Section:
    """Records past retention, the longest overdue first."""
    c = flags.chosen(clinic_id, "retention", now_local, limit, oldest_first=True).c
    stmt = (
        select(
            c.subject_id.label("patient_id"),
            Patient.given_name,
            Patient.family_name,
            Patient.date_of_birth,
            c.day.label("last_visit"),
            c.due_at,
            c.total_rows,
        )
        .join(Patient, Patient.id == c.subject_id)
        .order_by(*flags.listing_order("retention", c, oldest_first=True))
    )

    def due(rows: list[Any]) -> list[DueRecord]:
        return [
            DueRecord(
                r.patient_id,
                f"{r.given_name} {r.family_name}",
                r.date_of_birth,
                r.last_visit,
                (r.due_at - timedelta(days=1)).date(),
            )
            for r in rows
        ]

    return _section(stmt, rows=due)


def dashboard(clinic_id: int, *, now_local: datetime, now: datetime) -> Dashboard:
    """Every rule of the compliance dashboard for one clinic: a fixed set of statements.

    The first view of a clinic (no full check yet) derives every finding first.
    """
    settings = services.settings_for(clinic_id)
    if flags.needs_full_check(settings):
        flags.full_check(clinic_id)
        settings = services.settings_for(clinic_id)
    return Dashboard(
        settings,
        {
            "unsigned": services.unsigned_notes(clinic_id, now_local),
            "overlaps": overlaps(clinic_id, now_local),
            "overbooked": overbooked(clinic_id, now_local),
            "amended": amended(clinic_id, now_local),
            "reissued": reissued(clinic_id, now_local),
            "unbilled": unbilled(clinic_id, now_local),
            "orphan_receipts": orphan_receipts(clinic_id, now_local),
            "snooping": services.chart_snooping(
                clinic_id, now, settings.snoop_min_patients, settings.snoop_window_days
            ),
            "retention": retention(clinic_id, now_local),
        },
    )
