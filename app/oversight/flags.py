"""Compliance flags: the dashboard's findings, kept current as records are written.

The B7 and R4 rules look at a clinic's whole history: overlapping visits, days
over a working day, notes amended after their receipt, receipts reprinted too
often, signed visits nobody billed, receipts without a signed visit, records
past retention. Run on every dashboard view, they grow with the history. Instead
each finding is kept as a ``ComplianceFlag`` row, and the dashboard reads at most
a page of those (plus a count that stops at ``COUNT_CAP``).

The flags stay current without any service having to remember them:

1. ``_note_writes`` (``before_flush``) notes what each flush touches that a rule
   depends on: a visit's therapist, times or attendance touch that therapist's
   day; its status touches the visit; an amendment, receipt, duplicate or void
   touches its visit and receipt; a patient or a visit touches the patient's
   retention; a clinic's retention period or its working day touch a whole rule.
2. ``_refresh`` (``before_commit``, after the audit chain has linked the
   transaction's events) takes the clinic's audit-chain head lock, re-runs each
   affected rule for just that scope, with the same statement builders the full
   check uses, and replaces the scope's flags. Everything that writes flags holds
   that lock first (``_lock_clinics``), so writers of one clinic take turns, each
   sees the others' commits, and there is one lock order (no deadlocks).

``full_check`` re-derives every rule over the whole history and reports how many
flags it had to add or remove: nothing but 0 is expected (a record changed
outside the ORM, by hand or by a bulk load, is the usual reason). It runs on the
owner's first dashboard view, from ``flask compliance check`` (nightly cron) and
after ``flask bench seed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, delete, event, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from app import audit_chain  # imported first: its before_commit listener runs before ours
from app.extensions import db
from app.models import (
    Amendment,
    Clinic,
    ComplianceFlag,
    ComplianceSettings,
    Patient,
    Receipt,
    ReceiptReissue,
    ReceiptVoid,
    RetentionPurge,
    Visit,
    utcnow,
)
from app.models.oversight import WORKING_DAY_MINUTES
from app.oversight import services
from app.oversight.retention import retention_end

ALWAYS_DUE = datetime(2000, 1, 1)  # ``due_at`` of findings that are due at once
COUNT_CAP = 1000  # the dashboard counts a rule's findings up to this, then says "more than"
RULES = (
    "overlaps",
    "overbooked",
    "amended",
    "reissued",
    "unbilled",
    "orphan_receipts",
    "retention",
)
TIMED_RULES = ("unbilled", "retention")  # listed only from ``due_at`` on
PENDING = "compliance_scopes"  # key in Session.info: scopes waiting for the commit

# What each kind of scope re-checks.
DAY_RULES = ("overlaps", "overbooked")
VISIT_RULES = ("unbilled", "amended", "orphan_receipts")
RECEIPT_RULES = ("reissued", "orphan_receipts")
PURGE_RULES = ("unbilled", "amended", "reissued", "orphan_receipts", "retention")

_DAY_FIELDS = (
    "therapist_id", "therapist", "local_start", "local_end", "duration_minutes", "attendance",
)  # fmt: skip
_VISIT_FIELDS = ("status", "patient_id", "patient")


@dataclass(frozen=True)
class Scope:
    """Part of one clinic's records that a write touched.

    ``kind`` is "day" (``ref`` a therapist, with ``day``), "visit", "receipt",
    "patient" (its retention), "purge" (everything of a purged patient) or
    "rule" (``ref`` a rule name: the whole rule, after a threshold changed).
    """

    clinic_id: int
    kind: str
    ref: int | str
    day: date | None = None


@dataclass
class _Pending:
    scopes: set[Scope] = field(default_factory=set)
    objects: list[Any] = field(default_factory=list)  # new rows: ids are known after the flush


# -- noting what a flush touches ------------------------------------------------------------


def _stored_visit(session: Session, visit: Visit) -> Any:
    """The visit's row as the database still holds it (before this flush is written).

    Read from the database, not from attribute history: a value set on an expired
    instance, or through a relationship, has no old value in the history."""
    stmt = select(Visit.clinic_id, Visit.therapist_id, Visit.local_start, Visit.patient_id)
    return session.connection().execute(stmt.where(Visit.id == visit.id)).first()


def _changed(obj: Any, names: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _visit_days(clinic_id: int, therapist_id: Any, start: Any) -> set[Scope]:
    if therapist_id is None or start is None:
        return set()
    return {Scope(clinic_id, "day", therapist_id, start.date())}


def _note_writes(session: Session, _context: Any, _instances: Any) -> None:
    pending: _Pending = session.info.setdefault(PENDING, _Pending())
    for obj in session.deleted:
        if isinstance(obj, Visit):
            pending.scopes |= _visit_days(obj.clinic_id, obj.therapist_id, obj.local_start)
            pending.scopes |= {
                Scope(obj.clinic_id, "visit", obj.id),
                Scope(obj.clinic_id, "patient", obj.patient_id),
            }
    for obj in session.new:
        if isinstance(obj, Visit | Amendment | Receipt | ReceiptReissue | ReceiptVoid | Patient):
            pending.objects.append(obj)
        elif isinstance(obj, ComplianceSettings) and obj.working_day_minutes not in (
            None,
            WORKING_DAY_MINUTES,
        ):
            pending.scopes.add(Scope(obj.clinic_id, "rule", "overbooked"))
    for obj in session.dirty:
        if isinstance(obj, Visit):
            if not _changed(obj, _DAY_FIELDS + _VISIT_FIELDS):
                continue  # a note's text (autosave) touches no rule
            pending.objects.append(obj)
            before = _stored_visit(session, obj)
            if before is not None:
                pending.scopes |= _visit_days(
                    before.clinic_id, before.therapist_id, before.local_start
                )
                pending.scopes.add(Scope(before.clinic_id, "patient", before.patient_id))
        elif isinstance(obj, Patient) and _changed(obj, ("date_of_birth", "created_at")):
            pending.objects.append(obj)
        elif isinstance(obj, Clinic) and _changed(obj, ("retention_years",)):
            pending.scopes.add(Scope(obj.id, "rule", "retention"))
        elif isinstance(obj, ComplianceSettings) and _changed(obj, ("working_day_minutes",)):
            pending.scopes.add(Scope(obj.clinic_id, "rule", "overbooked"))


def _scopes_of(obj: Any) -> set[Scope]:
    """The scopes a new or changed row touches, read after the flush gave it its ids."""
    if isinstance(obj, Visit):
        return _visit_days(obj.clinic_id, obj.therapist_id, obj.local_start) | {
            Scope(obj.clinic_id, "visit", obj.id),
            Scope(obj.clinic_id, "patient", obj.patient_id),
        }
    if isinstance(obj, Amendment):
        visit = db.session.get(Visit, obj.visit_id)
        return {Scope(visit.clinic_id, "visit", visit.id)} if visit else set()
    if isinstance(obj, Patient):
        return {Scope(obj.clinic_id, "patient", obj.id)}
    receipt = obj if isinstance(obj, Receipt) else db.session.get(Receipt, obj.receipt_id)
    if receipt is None:
        return set()
    return {
        Scope(receipt.clinic_id, "receipt", receipt.id),
        Scope(receipt.clinic_id, "visit", receipt.visit_id),
    }


def touch_purge(patient: Patient) -> None:
    """Before a purge deletes a patient's rows in bulk (which the ORM does not see):
    re-check the patient's findings and every day they had a visit."""
    pending: _Pending = db.session.info.setdefault(PENDING, _Pending())
    pending.scopes.add(Scope(patient.clinic_id, "purge", patient.id))
    days = db.session.execute(
        select(Visit.therapist_id, Visit.local_start).where(Visit.patient_id == patient.id)
    )
    for therapist_id, start in days:
        pending.scopes |= _visit_days(patient.clinic_id, therapist_id, start)


# -- re-checking a scope ----------------------------------------------------------------------


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _derive_overlaps(clinic_id: int, *where: Any) -> list[dict[str, Any]]:
    rows = db.session.execute(services.overlaps_stmt(clinic_id, *where).order_by(None))
    return [
        {
            "key": f"{r.first_id}-{r.second_id}",
            "subject_id": r.first_id,
            "other_id": r.second_id,
            "therapist_id": r.therapist_id,
            "patient_id": r.patient_id,
            "sort_at": r.first_start,
        }
        for r in rows
    ]


def _derive_overbooked(clinic_id: int, *where: Any) -> list[dict[str, Any]]:
    settings = db.session.get(ComplianceSettings, clinic_id)
    minutes = settings.working_day_minutes if settings else WORKING_DAY_MINUTES
    rows = db.session.execute(services.overbooked_stmt(clinic_id, minutes, *where).order_by(None))
    return [
        {
            "key": f"{r.therapist_id}-{r.day.isoformat()}",
            "subject_id": r.visit_id,
            "therapist_id": r.therapist_id,
            "day": r.day,
            "amount": r.minutes,
            "tally": r.visits,
            "sort_at": _midnight(r.day),
        }
        for r in rows
    ]


def _derive_amended(clinic_id: int, *where: Any) -> list[dict[str, Any]]:
    rows = db.session.execute(services.amended_stmt(clinic_id, *where).order_by(None))
    return [
        {
            "key": str(r.visit_id),
            "subject_id": r.visit_id,
            "other_id": r.receipt_id,
            "patient_id": r.patient_id,
            "tally": r.amendments,
            "sort_at": _naive_utc(r.amended_at),
        }
        for r in rows
    ]


def _derive_reissued(clinic_id: int, *where: Any) -> list[dict[str, Any]]:
    rows = db.session.execute(services.reissued_stmt(clinic_id, *where).order_by(None))
    return [
        {
            "key": str(r.receipt_id),
            "subject_id": r.receipt_id,
            "patient_id": r.patient_id,
            "tally": r.reissues,
            "sort_at": _naive_utc(r.last_reissued_at),
        }
        for r in rows
    ]


def _derive_unbilled(clinic_id: int, *where: Any) -> list[dict[str, Any]]:
    stmt = select(Visit.id, Visit.local_start, Visit.patient_id, Visit.therapist_id).where(
        *services.unbilled_conditions(clinic_id), *where
    )
    return [
        {
            "key": str(r.id),
            "subject_id": r.id,
            "therapist_id": r.therapist_id,
            "patient_id": r.patient_id,
            "sort_at": r.local_start,
            "due_at": r.local_start + services.UNBILLED_AFTER,
        }
        for r in db.session.execute(stmt)
    ]


def _derive_orphans(clinic_id: int, *where: Any) -> list[dict[str, Any]]:
    rows = db.session.execute(services.orphans_stmt(clinic_id, *where).order_by(None))
    return [
        {
            "key": str(r.receipt_id),
            "subject_id": r.receipt_id,
            "other_id": r.visit_id,
            "patient_id": r.patient_id,
            "tally": r.number,
            "sort_at": ALWAYS_DUE,
        }
        for r in rows
    ]


def _derive_retention(clinic_id: int, *where: Any) -> list[dict[str, Any]]:
    """One flag per patient whose records are kept: due the day after retention ends."""
    years = db.session.scalar(select(Clinic.retention_years).where(Clinic.id == clinic_id))
    last_start = func.max(Visit.local_start)
    stmt = (
        select(Patient.id, Patient.date_of_birth, Patient.created_at, last_start.label("last"))
        .outerjoin(Visit, Visit.patient_id == Patient.id)
        .where(
            Patient.clinic_id == clinic_id,
            ~select(RetentionPurge.id).where(RetentionPurge.patient_id == Patient.id).exists(),
            *where,
        )
        .group_by(Patient.id, Patient.date_of_birth, Patient.created_at)
    )
    found = []
    for r in db.session.execute(stmt):
        last = r.last.date() if r.last else None
        due = _midnight(retention_end(last or r.created_at.date(), r.date_of_birth, years))
        due += timedelta(days=1)
        found.append(
            {"key": str(r.id), "subject_id": r.id, "patient_id": r.id, "day": last}
            | {"sort_at": due, "due_at": due}
        )
    return found


_DERIVE = {
    "overlaps": _derive_overlaps,
    "overbooked": _derive_overbooked,
    "amended": _derive_amended,
    "reissued": _derive_reissued,
    "unbilled": _derive_unbilled,
    "orphan_receipts": _derive_orphans,
    "retention": _derive_retention,
}


def _plan(scope: Scope) -> list[tuple[str, list[Any], list[Any]]]:
    """(rule, which stored flags the scope covers, the rule's extra conditions) per rule."""
    f, ref = ComplianceFlag, scope.ref
    if scope.kind == "rule":
        return [(str(ref), [], [])]
    if scope.kind == "day":
        assert scope.day is not None
        # An overlap is stored under the visit that starts first, which may be the
        # day before; re-check the pairs starting on either day.
        start, end = _midnight(scope.day - timedelta(days=1)), _midnight(scope.day)
        end += timedelta(days=1)
        first = services.first_visit()
        return [
            (
                "overlaps",
                [f.therapist_id == ref, f.sort_at >= start, f.sort_at < end],
                [first.therapist_id == ref, first.local_start >= start, first.local_start < end],
            ),
            (
                "overbooked",
                [f.key == f"{ref}-{scope.day.isoformat()}"],
                [
                    Visit.therapist_id == ref,
                    Visit.local_start >= _midnight(scope.day),
                    Visit.local_start < end,
                ],
            ),
        ]
    if scope.kind == "visit":
        return [
            ("unbilled", [f.subject_id == ref], [Visit.id == ref]),
            ("amended", [f.subject_id == ref], [Receipt.visit_id == ref]),
            ("orphan_receipts", [f.other_id == ref], [Receipt.visit_id == ref]),
        ]
    if scope.kind == "receipt":
        return [
            ("reissued", [f.subject_id == ref], [Receipt.id == ref]),
            ("orphan_receipts", [f.subject_id == ref], [Receipt.id == ref]),
        ]
    if scope.kind == "patient":
        return [("retention", [f.subject_id == ref], [Patient.id == ref])]
    # a purge: everything stored for the patient goes, and is derived again (to nothing)
    by_patient = {
        "unbilled": Visit.patient_id,
        "amended": Receipt.patient_id,
        "reissued": Receipt.patient_id,
        "orphan_receipts": Receipt.patient_id,
        "retention": Patient.id,
    }
    return [(rule, [f.patient_id == ref], [by_patient[rule] == ref]) for rule in PURGE_RULES]


def _replace(clinic_id: int, rule: str, stored: list[Any], rows: list[dict[str, Any]]) -> None:
    f = ComplianceFlag
    db.session.execute(delete(f).where(f.clinic_id == clinic_id, f.rule == rule, *stored))
    if rows:
        base = {k: None for k in ("other_id", "therapist_id", "patient_id", "day", "amount")}
        base |= {"tally": None, "due_at": ALWAYS_DUE, "clinic_id": clinic_id, "rule": rule}
        db.session.execute(insert(f), [base | row for row in rows])


def refresh(scopes: Iterable[Scope]) -> None:
    """Re-check each scope's rules and replace its flags with what they find now."""
    for scope in sorted(set(scopes), key=lambda s: (s.clinic_id, s.kind, str(s.ref), s.day)):
        for rule, stored, where in _plan(scope):
            _replace(scope.clinic_id, rule, stored, _DERIVE[rule](scope.clinic_id, *where))


def _lock_clinics(session: Session, clinic_ids: Iterable[int]) -> None:
    """Queue behind every other writer of these clinics before reading or writing flags.

    The lock is the clinic's audit-chain head row, which every audited write takes
    at commit (``audit_chain.link``). Taking it before the rules read anything means
    they see every earlier commit, and keeps one lock order for everybody, so flag
    writers neither deadlock nor collide. A no-op UPDATE takes it: a row lock on
    PostgreSQL, the database's write lock on SQLite. A clinic without a head yet gets
    its empty one, as ``audit_chain`` would create it."""
    for clinic_id in sorted(set(clinic_ids)):
        chain = {"c": audit_chain.chain_of(clinic_id), "g": audit_chain.GENESIS}
        session.execute(
            text(
                "INSERT INTO audit_chain_heads (chain_id, seq, hash) VALUES (:c, 0, :g) "
                "ON CONFLICT (chain_id) DO NOTHING"
            ),
            chain,
        )
        session.execute(text("UPDATE audit_chain_heads SET seq = seq WHERE chain_id = :c"), chain)


def _refresh(session: Session) -> None:
    session.flush()  # notes what is still unflushed, and gives new rows their ids
    pending: _Pending | None = session.info.pop(PENDING, None)
    if pending is None:
        return
    scopes = set(pending.scopes)
    for obj in pending.objects:
        scopes |= _scopes_of(obj)
    if scopes:
        _lock_clinics(session, {s.clinic_id for s in scopes})
        refresh(scopes)


def _drop_pending(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)


event.listen(Session, "before_flush", _note_writes)
event.listen(Session, "before_commit", _refresh)
event.listen(Session, "after_transaction_end", _drop_pending)


# -- the full check -----------------------------------------------------------------------------


_VALUES = ("subject_id", "other_id", "therapist_id", "patient_id", "day", "amount", "tally")


def _stored(clinic_id: int, rule: str) -> dict[str, tuple[Any, ...]]:
    f = ComplianceFlag
    columns = [getattr(f, name) for name in _VALUES]
    stmt = select(f.key, *columns, f.sort_at, f.due_at)
    rows = db.session.execute(stmt.where(f.clinic_id == clinic_id, f.rule == rule))
    return {row[0]: tuple(row[1:]) for row in rows}


def _as_stored(row: dict[str, Any]) -> tuple[Any, ...]:
    values = [row.get(name) for name in _VALUES]
    return (*values, row["sort_at"], row.get("due_at", ALWAYS_DUE))


def full_check(clinic_id: int) -> int:
    """Derive every rule over the clinic's whole history, store the findings, and return
    how many stored findings were wrong (missing, stale or changed). Caller commits."""
    _lock_clinics(db.session, [clinic_id])
    repaired = 0
    for rule in RULES:
        rows = _DERIVE[rule](clinic_id)
        derived = {row["key"]: _as_stored(row) for row in rows}
        stored = _stored(clinic_id, rule)
        repaired += sum(stored.get(key) != values for key, values in derived.items())
        repaired += len(stored.keys() - derived.keys())
        _replace(clinic_id, rule, [], rows)
    settings = services.settings_for(clinic_id)
    settings.flags_checked_at = utcnow()
    settings.flags_repaired = repaired
    db.session.add(settings)
    db.session.flush()
    return repaired


def needs_full_check(settings: ComplianceSettings) -> bool:
    return settings.flags_checked_at is None


# -- reading flags for the dashboard ------------------------------------------------------------


def chosen(
    clinic_id: int, rule: str, now_local: datetime, limit: int, *, oldest_first: bool = False
) -> Any:
    """A subquery of the rule's first ``limit`` due flags in ``order_key`` order, each with
    the rule's due count (``total_rows``, counted up to ``COUNT_CAP + 1``).

    Flags due at once are ordered by ``sort_at``; the two rules that wait for the clock
    are filtered and ordered by ``due_at`` (for them it follows ``sort_at``), so either
    way one index gives the rows in order and the statement reads at most a page.
    """
    f = ComplianceFlag
    cond = [f.clinic_id == clinic_id, f.rule == rule]
    if rule in TIMED_RULES:
        cond.append(f.due_at <= now_local)
    counted = select(f.id).where(*cond).limit(COUNT_CAP + 1).subquery()
    total = select(func.count()).select_from(counted).scalar_subquery()
    stmt: Select[Any] = select(f, total.label("total_rows")).where(*cond)
    stmt = stmt.order_by(*listing_order(rule, f, oldest_first=oldest_first))
    return stmt.limit(limit).subquery("chosen")


def listing_order(rule: str, table: Any, *, oldest_first: bool = False) -> tuple[Any, ...]:
    """How a rule's findings are listed (columns of the flags table or of ``chosen``).

    Receipts: the most duplicated first, and (never expected) orphans by number, as the
    whole-history rules list them; these are rare, so sorting them costs little. The
    rest follow an index: newest first, or the longest overdue first."""
    if rule == "reissued":
        return (table.tally.desc(), table.sort_at.desc(), table.id)
    if rule == "orphan_receipts":
        return (table.tally, table.id)
    key = table.due_at if rule in TIMED_RULES else table.sort_at
    return (key, table.id) if oldest_first else (key.desc(), table.id)
