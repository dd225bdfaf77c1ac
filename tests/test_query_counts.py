"""SQL statements per page stay the same as records pile up (no N+1 queries).

Each test shows a page with a few records behind it, then with ten times as
many, and compares the number of statements the request sent. Counts, never
times. The audit write of each request (its hash-chain link included) is part
of both counts, so the comparison does not depend on how many statements the
audit log takes; a loose upper bound catches a page that grows heavy anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import Clinic, Patient, Visit
from app.patients.chart_cache import record_cache
from app.protocols import get_library, reload_library
from tests import factories as f
from tests import protocol_samples as s

SMALL, LARGE = 3, 30
MAX_STATEMENTS = 40  # generous: today's pages send 1 to 20


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def statements_for(app: Flask, client: Any, url: str) -> int:
    """Statements of one GET of ``url`` (after a first GET that warms any lazy set-up)."""
    assert client.get(url).status_code == 200
    with counting(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(statements)


def assert_flat(app: Flask, client: Any, url: Callable[[], str], grow: Callable[[int], None]):
    """Count at SMALL records, grow to LARGE, count again: the two must be equal."""
    grow(SMALL)
    db.session.commit()
    small = statements_for(app, client, url())
    grow(LARGE - SMALL)
    db.session.commit()
    large = statements_for(app, client, url())
    assert small == large, f"{url()}: {small} statements with {SMALL} records, {large} with {LARGE}"
    assert large <= MAX_STATEMENTS
    return small


def _signed_visits(patient: Patient, therapist: Any, n: int, start: date, receipts: bool) -> None:
    protocols = [p for p in get_library() if not p.sensitive_area][:2]
    applied = [{"protocol_id": p.id, "title": p.title, "category": p.category} for p in protocols]
    existing = db.session.query(Visit).filter_by(patient_id=patient.id).count()
    for i in range(existing, existing + n):
        by = therapist or f.make_user(db.session.get(Clinic, patient.clinic_id), "therapist")
        visit = f.make_visit(
            patient, by, day=start + timedelta(days=i), start=time(9), signed=True,
            applied=applied,
        )  # fmt: skip
        if receipts and i % 2 == 0:
            f.make_receipt(visit)


def test_patient_search(app: Flask, world: Any, login_as: Any) -> None:
    client = login_as("therapist")

    def grow(n: int) -> None:
        for _ in range(n):
            f.make_patient(world.clinic, given_name="Quentin", family_name="Searchable")

    assert_flat(app, client, lambda: "/patients/?q=search", grow)


def test_patient_chart(app: Flask, world: Any, login_as: Any) -> None:
    """Flat past a page of visits; below it, the chart reads its pain trend and unbilled
    visits off the page (docs/performance.md): fewer statements, never more."""
    f.make_fee_schedule(world.clinic)
    db.session.commit()
    client = login_as("therapist")
    patient = world.patient

    def grow(n: int) -> None:  # each visit by another therapist
        _signed_visits(patient, None, n, date(2024, 1, 1), receipts=True)

    def count() -> tuple[int, int]:
        """(first view after a change, repeat view): the repeat takes the visit and
        receipt sections from the worker's cache (app/patients/chart_cache.py)."""
        url = f"/patients/{patient.id}"
        assert client.get(url).status_code == 200  # lazy set-up
        record_cache(app).clear()
        with counting(app) as first:
            assert client.get(url).status_code == 200
        with counting(app) as repeat:
            assert client.get(url).status_code == 200
        return len(first), len(repeat)

    grow(SMALL)
    db.session.commit()
    below_a_page = count()
    grow(LARGE - SMALL)
    db.session.commit()
    large = count()
    grow(LARGE)
    db.session.commit()
    assert count() == large and large[0] <= MAX_STATEMENTS
    assert below_a_page[0] <= large[0] and below_a_page[1] == large[1] < large[0]


def test_visit_show(app: Flask, world: Any, login_as: Any) -> None:
    visit = f.make_visit(world.patient, world.therapist, day=date(2024, 3, 1), signed=True)
    visit_id = visit.id
    db.session.commit()
    client = login_as("therapist")

    def grow(n: int) -> None:
        for _ in range(n):
            f.make_amendment(visit, world.therapist)
            f.make_amendment(visit, world.therapist2)

    assert_flat(app, client, lambda: f"/visits/{visit_id}", grow)


def test_visit_form(app: Flask, world: Any, login_as: Any) -> None:
    protocols = [p for p in get_library() if not p.sensitive_area]
    draft = f.make_visit(world.patient, world.therapist, day=date.today() + timedelta(days=1))
    draft_id = draft.id
    db.session.commit()
    client = login_as("therapist")

    def grow(n: int) -> None:
        start = len(draft.applied)
        for i in range(start, start + n):
            p = protocols[i % len(protocols)]
            draft.applied.append(
                f.AppliedProtocol(
                    position=i, protocol_id=p.id, title=p.title, category=p.category,
                    content_version=p.content_version, added_by_id=world.therapist.id,
                )
            )  # fmt: skip
        _signed_visits(world.patient, world.therapist, n, date(2024, 1, 1), receipts=False)

    assert_flat(app, client, lambda: f"/visits/{draft_id}/edit?pq=neck", grow)


def test_protocol_search(app: Flask, world: Any, login_as: Any) -> None:
    clinic_dir = Path(app.config["CLINIC_PROTOCOLS_DIR"])
    client = login_as("therapist")
    written = [0]

    def grow(n: int) -> None:
        for i in range(written[0], written[0] + n):
            s.write(clinic_dir, s.meta(f"tp-neck-{i}", title=f"Neck release variant {i}"))
        written[0] += n
        reload_library(app)

    assert_flat(app, client, lambda: "/protocols/?q=neck+release", grow)


def test_audit_log(app: Flask, world: Any, login_as: Any) -> None:
    client = login_as("owner")

    def grow(n: int) -> None:  # each event by another person, about another patient
        for _ in range(n):
            patient = f.make_patient(world.clinic)
            actor = f.make_user(world.clinic, "therapist")
            audit.record(Action.PATIENT_VIEW, patient, actor=actor)

    assert_flat(app, client, lambda: "/admin/audit", grow)
    assert_flat(app, client, lambda: f"/admin/audit?actor={world.therapist.id}", grow)


def test_compliance_dashboard(app: Flask, world: Any, login_as: Any) -> None:
    if "oversight.dashboard" not in app.view_functions:
        pytest.skip("the compliance dashboard does not exist yet")
    f.make_fee_schedule(world.clinic)
    db.session.commit()
    client = login_as("owner")

    def grow(n: int) -> None:
        _signed_visits(world.patient, world.therapist, n, date(2023, 1, 1), receipts=True)

    assert_flat(app, client, lambda: "/admin/compliance/", grow)
