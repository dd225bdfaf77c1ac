"""Charting logic: start, save, apply protocols, sign and amend visits. No request here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import (
    ATTENDED,
    DRAFT,
    SIGNED,
    Amendment,
    AppliedProtocol,
    Consent,
    Patient,
    User,
    Visit,
    utcnow,
)
from app.oversight.retention import refuse_if_purged
from app.patients.services import current_consent, current_history
from app.protocols.contraindications import CheckResult, check
from app.protocols.library import Protocol
from app.vocab import RED_FLAGS, SENSITIVE_REGIONS

SOAP_FIELDS = (
    "chief_complaint", "complaint_history", "symptoms", "pain_before", "pain_locations",
    "aggravating", "relieving", "response_to_last", "red_flag_decision", "red_flag_detail",
    "posture", "range_of_motion", "palpation", "treatment_notes", "clinical_impression",
    "treatment_response", "pain_after", "plan", "frequency", "next_visit", "home_care",
    "home_care_none", "referrals",
)  # fmt: skip
NULLABLE_FIELDS = ("pain_before", "pain_after")
# What "start from the last visit" carries forward: O, A and P.
CARRY_FORWARD = (
    "posture", "range_of_motion", "palpation", "trigger_points", "body_marks",
    "clinical_impression", "plan", "frequency", "home_care", "referrals",
)  # fmt: skip
OVERDUE_AFTER = timedelta(hours=48)


class VisitError(Exception):
    """A charting action that cannot be done, with a message for the therapist."""


class Overlap(VisitError):
    pass


class Conflict(VisitError):
    pass


class NotDraft(VisitError):
    pass


class RedFlagBlock(VisitError):
    pass


class NeedsAcknowledgement(VisitError):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(
            "This protocol matches the patient's health history; acknowledge it first."
        )
        self.result = result


def local_now(tz_name: str) -> datetime:
    """The clinic's wall-clock time now, naive (visits store wall-clock times)."""
    return datetime.now(ZoneInfo(tz_name)).replace(tzinfo=None)


def find_overlap(
    therapist_id: int, start: datetime, end: datetime, exclude_id: int | None = None
) -> Visit | None:
    """An attended visit of this therapist that overlaps [start, end), if any."""
    stmt = select(Visit).where(
        Visit.therapist_id == therapist_id,
        Visit.attendance == ATTENDED,
        Visit.local_start < end,
        Visit.local_end > start,
    )
    if exclude_id:
        stmt = stmt.where(Visit.id != exclude_id)
    return db.session.scalar(stmt.limit(1))


def _refuse_overlap(visit: Visit) -> None:
    other = find_overlap(visit.therapist_id, visit.local_start, visit.local_end, visit.id)
    if other:
        raise Overlap(
            f"You already have a visit from {other.local_start:%H:%M} to {other.local_end:%H:%M} "
            f"on {other.local_start:%Y-%m-%d}. Choose another time or duration."
        )


def last_signed_visit(patient: Patient, before: datetime | None = None) -> Visit | None:
    stmt = select(Visit).where(Visit.patient_id == patient.id, Visit.status == SIGNED)
    if before:
        stmt = stmt.where(Visit.local_start < before)
    return db.session.scalar(stmt.order_by(Visit.local_start.desc()).limit(1))


def start_visit(patient: Patient, therapist: User, data: dict[str, Any]) -> Visit:
    """Open a draft visit for ``patient`` with ``therapist``; refuse overlapping times."""
    refuse_if_purged(patient, VisitError)
    visit = Visit(
        clinic_id=patient.clinic_id, patient_id=patient.id, therapist_id=therapist.id,
        location_id=data.get("location_id") or None, updated_by_id=therapist.id,
    )  # fmt: skip
    visit.set_schedule(data["visit_date"], data["start_time"], data["duration_minutes"])
    _refuse_overlap(visit)
    copied_from = None
    if data.get("copy_last") and (previous := last_signed_visit(patient, visit.local_start)):
        for name in CARRY_FORWARD:
            setattr(visit, name, getattr(previous, name))
        copied_from = previous.id
    db.session.add(visit)
    db.session.flush()
    audit.record(Action.VISIT_CREATE, visit, patient=patient, copied_from=copied_from)
    return visit


def _clean_marks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"region": r["region"], "side": r.get("side") or "", "kind": r.get("kind") or "pain",
         "intensity": r.get("intensity")}
        for r in rows if r.get("region")
    ]  # fmt: skip


def _clean_trigger_points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"muscle": r["muscle"], "side": r.get("side") or "", "status": r.get("status") or "active",
         "referral": r.get("referral") or ""}
        for r in rows if r.get("muscle")
    ]  # fmt: skip


def _require_draft(visit: Visit) -> None:
    if visit.status != DRAFT:
        raise NotDraft("This note is signed. Add an amendment instead.")


def save_draft(
    visit: Visit, user: User, data: dict[str, Any], expected_version: int | None, via: str = "form"
) -> list[str]:
    """Apply the form's entries to a draft; refuse if someone saved in between."""
    _require_draft(visit)
    if expected_version is not None and expected_version != visit.lock_version:
        raise Conflict(_conflict_message(visit))
    before = {
        name: getattr(visit, name)
        for name in (
            *SOAP_FIELDS,
            "red_flags",
            "body_marks",
            "trigger_points",
            "local_start",
            "duration_minutes",
        )
    }
    visit.set_schedule(data["visit_date"], data["start_time"], data["duration_minutes"])
    _refuse_overlap(visit)
    for name in SOAP_FIELDS:
        if name in data:
            value = data[name]
            if value is None and name not in NULLABLE_FIELDS:
                value = [] if name == "symptoms" else ""
            setattr(visit, name, value)
    visit.red_flags = {
        code: data[f"rf_{code}"] for code in RED_FLAGS if data.get(f"rf_{code}") in ("yes", "no")
    }
    if not visit.red_flag_positive:
        visit.red_flag_decision, visit.red_flag_detail = "", ""
    visit.body_marks = _clean_marks(data.get("marks", []))
    visit.trigger_points = _clean_trigger_points(data.get("trigger_points", []))
    _apply_rows(visit, data.get("applied", []))
    if data.get("sensitive_consent"):
        _record_sensitive_consent(visit, user)
    changed = [name for name, old in before.items() if getattr(visit, name) != old]
    visit.updated_by_id = user.id
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict(
            "Someone else saved this note a moment ago. Reload it; your text is below."
        ) from exc
    audit.record(Action.VISIT_UPDATE, visit, patient=visit.patient, fields=changed, via=via)
    return changed


def _conflict_message(visit: Visit) -> str:
    who = db.session.get(User, visit.updated_by_id) if visit.updated_by_id else None
    name = who.full_name if who else "someone"
    return (
        f"This note was saved by {name} at {visit.updated_at:%H:%M} UTC after you opened it, "
        "so your save was refused. Everything you typed is still below: open the note in a new "
        "tab, copy in what you need, and save there."
    )


def _apply_rows(visit: Visit, rows: list[dict[str, Any]]) -> None:
    by_id = {str(a.id): a for a in visit.applied}
    for row in rows:
        applied = by_id.get(str(row.get("applied_id") or ""))
        if applied is None:
            continue
        for name in ("side", "minutes", "pressure", "response"):
            value = row.get(name)
            value = value if value is not None else ("" if name != "minutes" else None)
            if getattr(applied, name) != value:
                setattr(applied, name, value)


def sensitive_areas(visit: Visit) -> list[str]:
    """Sensitive regions touched by the protocols applied in this visit (R3)."""
    areas = {
        r for a in visit.applied if a.sensitive_area for r in a.regions if r in SENSITIVE_REGIONS
    }
    if any(a.sensitive_area for a in visit.applied) and not areas:
        areas.add("chest_wall")
    return sorted(areas)


def sensitive_consent(visit: Visit) -> Consent | None:
    return db.session.scalar(
        select(Consent)
        .where(Consent.visit_id == visit.id, Consent.kind == "sensitive_area")
        .limit(1)
    )


def _record_sensitive_consent(visit: Visit, user: User) -> None:
    areas = sensitive_areas(visit)
    if not areas or sensitive_consent(visit) is not None:
        return
    consent = Consent(
        patient_id=visit.patient_id, kind="sensitive_area", visit_id=visit.id, areas=areas,
        given_on=visit.visit_date, method="written", elements=[], recorded_by_id=user.id,
    )  # fmt: skip
    db.session.add(consent)
    db.session.flush()
    audit.record(
        Action.CONSENT_CREATE, consent, patient=visit.patient, kind="sensitive_area", areas=areas
    )


def patient_conditions(patient: Patient) -> list[str]:
    history = current_history(patient)
    return list(history.conditions) if history else []


def check_protocol(visit: Visit, protocol: Protocol) -> CheckResult:
    """The contraindication check of ``protocol`` against the patient's current history."""
    return check(patient_conditions(visit.patient), protocol)


def add_protocol(
    visit: Visit,
    user: User,
    protocol: Protocol,
    *,
    reason: str = "",
    confirm_absolute: bool = False,
) -> AppliedProtocol:
    """Apply ``protocol`` in this visit, enforcing the red-flag block (S1) and
    the contraindication acknowledgement (S2); snapshot the version used."""
    _require_draft(visit)
    if protocol.red_flag_screen and not visit.red_flags_cleared:
        raise RedFlagBlock(
            "The red-flag screen has a “yes”. Neck and cranial protocols stay blocked until you "
            "record a decision: referred, cleared by a physician, or not applicable with a reason."
        )
    if any(a.protocol_id == protocol.id for a in visit.applied):
        raise VisitError(f"{protocol.title} is already in this visit.")
    result = check_protocol(visit, protocol)
    if result.needs_acknowledgement and (not reason or (result.blocked and not confirm_absolute)):
        raise NeedsAcknowledgement(result)
    ack: dict[str, Any] = {}
    if result.needs_acknowledgement:
        ack = {
            "absolute": [m.code for m in result.absolute], "relative": [m.code for m in result.relative],
            "reason": reason, "by": user.id, "at": utcnow().isoformat(timespec="seconds"),
        }  # fmt: skip
    applied = AppliedProtocol(
        visit_id=visit.id, position=len(visit.applied), protocol_id=protocol.id,
        content_version=protocol.content_version, title=protocol.title, category=protocol.category,
        summary=protocol.summary, home_care=protocol.home_care, sensitive_area=protocol.sensitive_area,
        red_flag_screen=protocol.red_flag_screen, regions=list(protocol.regions),
        minutes=protocol.duration_minutes, contraindication_ack=ack, added_by_id=user.id,
    )  # fmt: skip
    visit.applied.append(applied)
    _prefill_home_care(visit, protocol)
    db.session.flush()
    audit.record(
        Action.PROTOCOL_APPLY, applied, patient=visit.patient, protocol=protocol.id,
        version=protocol.content_version,
    )  # fmt: skip
    if ack:
        audit.record(
            Action.CONTRAINDICATION_ACK, applied, patient=visit.patient, protocol=protocol.id,
            absolute=ack["absolute"], relative=ack["relative"], reason=reason,
        )  # fmt: skip
    return applied


def _prefill_home_care(visit: Visit, protocol: Protocol) -> None:
    """Add the protocol's home care to the note's (the therapist edits it freely)."""
    text = protocol.home_care.strip()
    if text and text not in (visit.home_care or ""):
        heading = f"{protocol.title}:"
        visit.home_care = f"{visit.home_care.rstrip()}\n\n{heading}\n{text}".strip()
        visit.home_care_none = False


def remove_protocol(visit: Visit, applied: AppliedProtocol) -> None:
    """Take a protocol out of a draft note."""
    _require_draft(visit)
    visit.applied.remove(applied)
    db.session.delete(applied)
    audit.record(Action.PROTOCOL_REMOVE, visit, patient=visit.patient, protocol=applied.protocol_id)


def areas_treated(visit: Visit) -> list[str]:
    marked = {m["region"] for m in visit.body_marks or [] if m.get("kind") == "treated"}
    applied = {r for a in visit.applied for r in a.regions}
    return sorted(marked | applied)


def missing_for_signature(visit: Visit) -> list[str]:
    """What R1, R3, S1 and S2 still need before this note can be signed."""
    missing = []
    checks = [
        (visit.chief_complaint, "Chief complaint (S)"),
        (visit.pain_before is not None, "Pain before treatment (NPRS)"),
        (areas_treated(visit), "Areas treated: mark them on the body chart or apply a protocol"),
        (visit.applied or visit.treatment_notes, "Techniques used: apply a protocol or describe the treatment"),
        (visit.posture or visit.range_of_motion or visit.palpation or visit.trigger_points, "Findings (O): posture, range of motion, palpation or trigger points"),
        (visit.clinical_impression, "Assessment / clinical impression (A)"),
        (visit.treatment_response or any(a.response for a in visit.applied), "The patient's response to treatment"),
        (visit.pain_after is not None, "Pain after treatment (NPRS)"),
        (visit.home_care or visit.home_care_none, "Home care advice, or tick “No home care given”"),
    ]  # fmt: skip
    missing += [message for ok, message in checks if not ok]
    consent = current_consent(visit.patient)
    if consent is None or not consent.complete or consent.given_on > visit.visit_date:
        missing.append("Informed consent to treatment on file (R3)")
    if sensitive_areas(visit) and sensitive_consent(visit) is None:
        missing.append("Written consent for the sensitive areas treated in this visit (R3)")
    if any(a.red_flag_screen for a in visit.applied):
        if len(visit.red_flags or {}) < len(RED_FLAGS):
            missing.append("Answer every question of the red-flag screen (S1)")
        elif not visit.red_flags_cleared:
            missing.append("A decision about the positive red flags (S1)")
    conditions = patient_conditions(visit.patient)
    for applied in visit.applied:
        acked = set(applied.contraindication_ack.get("absolute", [])) | set(
            applied.contraindication_ack.get("relative", [])
        )
        relevant = {c.code for c in _protocol_contraindications(applied)} & set(conditions)
        if relevant - acked:
            missing.append(
                f"Acknowledge the contraindications of {applied.title} (S2): the health history changed"
            )
    return missing


def _protocol_contraindications(applied: AppliedProtocol) -> list[Any]:
    from app.protocols import get_library

    protocol = get_library().get(applied.protocol_id)
    return list(protocol.contraindications) if protocol else []


def sign(visit: Visit, user: User) -> list[str]:
    """Sign and lock the note, or return what is missing (nothing is signed then)."""
    _require_draft(visit)
    missing = missing_for_signature(visit)
    if missing:
        return missing
    visit.status = SIGNED
    visit.signed_at = utcnow()
    visit.signed_by_id = user.id
    db.session.flush()
    audit.record(Action.VISIT_SIGN, visit, patient=visit.patient)
    return []


def amend(visit: Visit, user: User, reason: str, text: str) -> Amendment:
    """Append a dated, reasoned amendment to a signed note (R2)."""
    if visit.status != SIGNED:
        raise VisitError("Only a signed note takes amendments; edit the draft instead.")
    amendment = Amendment(visit_id=visit.id, author_id=user.id, reason=reason, text=text)
    db.session.add(amendment)
    db.session.flush()
    audit.record(
        Action.VISIT_AMEND, amendment, patient=visit.patient, visit=visit.id, reason=reason
    )
    return amendment


def load_visit_for_page(visit: Visit) -> Visit:
    """Fetch the visit's protocols and amendments in two queries (no N+1)."""
    db.session.scalars(
        select(Visit)
        .where(Visit.id == visit.id)
        .options(
            selectinload(Visit.applied),
            selectinload(Visit.amendments).selectinload(Amendment.author),
        )
    ).one()
    return visit


# ---- reading: chart, home page ------------------------------------------------------


@dataclass(slots=True)
class VisitLine:
    """One line of the chart's visit list: read from columns, not a loaded ``Visit``."""

    id: int
    local_start: datetime
    duration_minutes: int
    attendance: str
    status: str
    chief_complaint: str
    pain_before: int | None
    pain_after: int | None
    therapist_name: str

    @property
    def is_signed(self) -> bool:
        return self.status == SIGNED

    @property
    def visit_date(self) -> date:
        return self.local_start.date()

    @property
    def start_time(self) -> time:
        return self.local_start.time()

    @property
    def start_label(self) -> str:
        """The start time as lists show it, e.g. 09:30 (formatted without strftime, a third
        of its cost: lists call this once per row)."""
        return f"{self.local_start.hour:02d}:{self.local_start.minute:02d}"


@dataclass
class VisitPage:
    visits: list[VisitLine]
    next_before: str | None
    first_page: bool = True
    # On the first page: the patient's latest visit's body marks and red flags.
    latest: LatestMarks | None = None
    # On the first page: the visits read past the page (see LOOKAHEAD), not shown, and
    # whether the page and these hold every visit of the patient.
    beyond: list[VisitLine] = field(default_factory=list)
    complete: bool = False


@dataclass(frozen=True, slots=True)
class LatestMarks:
    """The latest visit's body marks and red-flag answers (``Visit`` column names)."""

    body_marks: list[dict[str, Any]]
    red_flags: dict[str, str]

    @classmethod
    def from_json(cls, body_marks: str | None, red_flags: str | None) -> LatestMarks:
        return cls(json.loads(body_marks or "null") or [], json.loads(red_flags or "null") or {})


# The columns of a VisitLine, in its order; select them joined to the therapist (users).
VISIT_LINE_COLUMNS = (
    Visit.id, Visit.local_start, Visit.duration_minutes, Visit.attendance, Visit.status,
    Visit.chief_complaint, Visit.pain_before, Visit.pain_after,
    User.full_name.label("therapist_name"),
)  # fmt: skip
# Body marks and red flags as their JSON text: only the latest visit's are shown, so
# only the first row's are decoded (not two JSON values per row of the page).
_MARKS_JSON = (cast(Visit.body_marks, Text), cast(Visit.red_flags, Text))
_NEWEST_FIRST = (Visit.local_start.desc(), Visit.id.desc())
# The chart's visit list as plain columns joined to the therapist's name: no ORM
# objects, no SOAP note (a full row decodes four JSON columns), one statement. Built
# once: reusing the statement object skips rebuilding it and its cache key per request.
_VISIT_LINES = (
    select(*VISIT_LINE_COLUMNS, *_MARKS_JSON)
    .join(User, User.id == Visit.therapist_id)
    .where(Visit.patient_id == bindparam("patient_id"))
    .order_by(*_NEWEST_FIRST)
    .limit(bindparam("size"))
)  # fmt: skip
_VISIT_LINES_BEFORE = _VISIT_LINES.where(
    (Visit.local_start < bindparam("stamp"))
    | ((Visit.local_start == bindparam("stamp")) & (Visit.id < bindparam("vid")))
)
_LATEST_MARKS = (
    select(*_MARKS_JSON)
    .where(Visit.patient_id == bindparam("patient_id"))
    .order_by(*_NEWEST_FIRST)
    .limit(1)
)
_PAIN_POINTS = (
    select(Visit.local_start, Visit.pain_before, Visit.pain_after)
    .where(Visit.patient_id == bindparam("patient_id"), Visit.status == SIGNED)
    .order_by(*_NEWEST_FIRST)
    .limit(bindparam("limit"))
)
PAIN_TREND_VISITS = 20  # the trend shows the latest 20 signed visits


# The first page reads up to this many visits past the page: when those hold the rest of
# the patient's visits (a typical patient has about twenty), the pain trend and the
# unbilled visits come off the same rows instead of one statement each.
LOOKAHEAD = 10


def patient_visits(patient: Patient, before: str | None = None, size: int = 20) -> VisitPage:
    """Visits newest first, keyset-paginated on (start, id); one statement."""
    params: dict[str, Any] = {"patient_id": patient.id, "size": size + LOOKAHEAD}
    stmt = _VISIT_LINES
    if before and "_" in before:
        stamp, _, vid = before.rpartition("_")
        try:
            params |= {"stamp": datetime.fromisoformat(stamp), "vid": int(vid), "size": size + 1}
            stmt = _VISIT_LINES_BEFORE
        except ValueError:
            pass
    rows = db.session.connection().execute(stmt, params).all()
    lines = [VisitLine(*row[:9]) for row in rows]
    page = lines[:size]
    nxt = f"{page[-1].local_start.isoformat()}_{page[-1].id}" if len(rows) > size else None
    if stmt is not _VISIT_LINES:
        return VisitPage(page, nxt, first_page=False)
    latest = LatestMarks.from_json(*rows[0][9:]) if rows else None
    complete = len(rows) < size + LOOKAHEAD
    return VisitPage(page, nxt, True, latest, lines[size:], complete)


def pain_points(patient: Patient, limit: int = PAIN_TREND_VISITS) -> list[Any]:
    """Pain before and after the latest ``limit`` signed visits, oldest first."""
    from app.charts import PainPoint

    conn = db.session.connection()
    rows = conn.execute(_PAIN_POINTS, {"patient_id": patient.id, "limit": limit}).all()
    return [PainPoint(r.local_start.date(), r.pain_before, r.pain_after) for r in reversed(rows)]


def _page_pain_points(page: VisitPage, limit: int = PAIN_TREND_VISITS) -> list[Any] | None:
    """``pain_points`` read off the first page of the visit list and the visits read past
    it, when they hold them all: they are every visit of the patient, or hold ``limit``
    signed visits. Else None."""
    from app.charts import PainPoint

    if not page.first_page:
        return None
    signed = [v for v in (*page.visits, *page.beyond) if v.status == SIGNED][:limit]
    if not page.complete and len(signed) < limit:
        return None  # older signed visits may belong to the trend
    return [PainPoint(v.local_start.date(), v.pain_before, v.pain_after) for v in reversed(signed)]


def latest_marks(patient: Patient) -> LatestMarks | None:
    row = db.session.connection().execute(_LATEST_MARKS, {"patient_id": patient.id}).first()
    return LatestMarks.from_json(*row) if row is not None else None


@dataclass
class TherapistDay:
    today: list[Visit] = field(default_factory=list)
    drafts: list[Visit] = field(default_factory=list)
    overdue: list[Visit] = field(default_factory=list)


def therapist_day(therapist: User, now: datetime) -> TherapistDay:
    """Today's visits, open drafts, and drafts more than 48 hours old (overdue)."""
    start = datetime.combine(now.date(), time.min)
    base = (
        select(Visit).where(Visit.therapist_id == therapist.id).options(selectinload(Visit.patient))
    )
    today = list(
        db.session.scalars(
            base.where(
                Visit.local_start >= start, Visit.local_start < start + timedelta(days=1)
            ).order_by(Visit.local_start)
        )
    )
    drafts = list(
        db.session.scalars(base.where(Visit.status == DRAFT).order_by(Visit.local_start).limit(100))
    )
    overdue = [v for v in drafts if v.local_start < now - OVERDUE_AFTER]
    return TherapistDay(today, [v for v in drafts if v not in overdue], overdue)


def form_initial(visit: Visit) -> dict[str, Any]:
    """Keyword arguments that fill a VisitForm from ``visit`` (lists as objects)."""
    initial: dict[str, Any] = {name: getattr(visit, name) for name in SOAP_FIELDS}
    initial |= {
        "visit_date": visit.visit_date,
        "start_time": visit.start_time,
        "duration_minutes": visit.duration_minutes,
        "lock_version": visit.lock_version,
        "marks": [SimpleNamespace(**m) for m in visit.body_marks or []],
        "trigger_points": [SimpleNamespace(**t) for t in visit.trigger_points or []],
        "applied": [
            SimpleNamespace(
                applied_id=a.id,
                side=a.side,
                minutes=a.minutes,
                pressure=a.pressure,
                response=a.response,
            )
            for a in visit.applied
        ],
        "sensitive_consent": sensitive_consent(visit) is not None,
    }
    for code in RED_FLAGS:
        initial[f"rf_{code}"] = (visit.red_flags or {}).get(code)
    return initial


@lru_cache(maxsize=128)  # about 1 MB at most: ~8 kB per 20-point chart
def _pain_trend(points: tuple[Any, ...]) -> Any:
    """``pain_trend_svg`` of these points, remembered: the SVG depends on nothing else
    (PainPoints are frozen), and a chart is often opened again before a new visit."""
    from app.charts import pain_trend_svg

    return pain_trend_svg(points)


def chart_visits(patient: Patient, before: str | None, clinical: bool) -> dict[str, Any]:
    """What the patient chart shows of visits; the clinical parts only when allowed.

    One statement for the page; the pain trend and the latest body marks come with it
    when the page holds them (the first page of a patient with up to 20 visits, or whose
    latest 20 are signed), else one more statement each.
    """
    page = patient_visits(patient, before)
    data: dict[str, Any] = {"visit_page": page, "trend": None, "latest_marks": [], "red_flags": []}
    if clinical:
        points = _page_pain_points(page)
        if points is None:
            points = pain_points(patient)
        data["trend"] = _pain_trend(tuple(points)) if points else None
        latest = page.latest if page.first_page else latest_marks(patient)
        if latest is not None:
            data["latest_marks"] = latest.body_marks
            data["red_flags"] = Visit.red_flag_positive.fget(latest)
    return data
