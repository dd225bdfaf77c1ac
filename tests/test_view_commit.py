"""Read views commit their audit entry with ``audit.commit_view`` (docs/audit.md).

On PostgreSQL such a commit does not wait for the WAL flush (``synchronous_commit`` is off
for that one transaction), unless ``VIEW_AUDIT_SYNC_COMMIT`` is set; every change still
waits. What the tests read is the setting in force when each transaction commits, taken
on the committing connection itself, and the audit entries and chain that result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select, text, update
from sqlalchemy.orm import Session

from app import audit, audit_chain
from app.audit import Action
from app.extensions import db
from app.models import AuditEvent, Patient
from tests import factories as f


@pytest.fixture
def commit_modes(app: Flask) -> Iterator[list[str]]:
    """``synchronous_commit`` as each transaction of the app's engine commits."""
    modes: list[str] = []

    def before_commit(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if conn.dialect.name == "postgresql":
            modes.append(raw.execute("SHOW synchronous_commit").fetchone()[0])
        else:
            modes.append("sqlite")

    event.listen(db.engine, "commit", before_commit)
    yield modes
    event.remove(db.engine, "commit", before_commit)


def views_of(patient_id: int) -> list[str]:
    rows = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.patient_id == patient_id).order_by(AuditEvent.id)
    )
    return list(rows)


def chain_is_whole(clinic_id: int) -> bool:
    return audit_chain.verify(db.session(), clinic_id).ok


@pytest.mark.postgresql_only
def test_read_pages_commit_without_waiting_and_changes_still_wait(
    world: Any, login_as: Any, commit_modes: list[str]
) -> None:
    visit = f.make_visit(world.patient, world.therapist, signed=True)
    db.session.commit()
    pid, therapist = world.patient.id, login_as("therapist")
    reads = [
        f"/patients/{pid}", f"/patients/{pid}/health-history", "/patients/?q=Lovelace",
        f"/visits/{visit.id}",
    ]  # fmt: skip
    for url in reads:
        commit_modes.clear()
        response = therapist.get(url)
        assert response.status_code == 200, url
        assert commit_modes == ["off"], url  # one transaction, the view's, and it did not wait

    commit_modes.clear()
    front = login_as("front_desk")
    commit_modes.clear()
    response = front.post(
        f"/patients/{pid}/edit",
        {"given_name": "Augusta Ada", "family_name": "Lovelace", "date_of_birth": "1985-12-10"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert commit_modes == ["on"]  # a change waits for its flush
    assert db.session.scalar(select(Patient.given_name).where(Patient.id == pid)) == "Augusta Ada"

    actions = views_of(pid)
    assert actions.count(Action.PATIENT_VIEW.value) >= 1
    assert Action.PATIENT_UPDATE.value in actions
    assert chain_is_whole(world.clinic.id)


@pytest.mark.postgresql_only
def test_an_owner_can_make_views_wait_too(
    app: Flask, world: Any, login_as: Any, commit_modes: list[str]
) -> None:
    app.config["VIEW_AUDIT_SYNC_COMMIT"] = True
    therapist = login_as("therapist")
    commit_modes.clear()
    assert therapist.get(f"/patients/{world.patient.id}").status_code == 200
    assert commit_modes == ["on"]
    assert views_of(world.patient.id)[-1] == Action.PATIENT_VIEW.value


@pytest.mark.parametrize("how", ["orm", "core", "sql"])
def test_a_view_that_wrote_commits_the_ordinary_way(
    app: Flask, world: Any, commit_modes: list[str], how: str
) -> None:
    patient = db.session.get(Patient, world.patient.id)
    with app.test_request_context("/"):
        # A view must not write; if one does, its commit still waits for the flush.
        if how == "orm":
            patient.phone = "416-555-0199"
        elif how == "core":
            db.session.execute(
                update(Patient).where(Patient.id == patient.id).values(phone="416-555-0199")
            )
        else:
            db.session.execute(
                text("UPDATE patients SET phone = '416-555-0199' WHERE id = :id"),
                {"id": patient.id},
            )
        audit.record(Action.PATIENT_VIEW, patient, actor=world.therapist)
        audit.commit_view()
    expected = "on" if db.engine.dialect.name == "postgresql" else "sqlite"
    assert commit_modes == [expected]
    db.session.expire_all()
    assert db.session.get(Patient, world.patient.id).phone == "416-555-0199"
    assert views_of(world.patient.id)[-1] == Action.PATIENT_VIEW.value
    assert chain_is_whole(world.clinic.id)


def test_views_and_changes_interleaved_leave_one_whole_chain(
    world: Any, login_as: Any, commit_modes: list[str]
) -> None:
    pid = world.patient.id
    therapist, front = login_as("therapist"), login_as("front_desk")
    for n in range(3):
        assert therapist.get(f"/patients/{pid}").status_code == 200
        response = front.post(
            f"/patients/{pid}/edit",
            {"given_name": f"Ada {n}", "family_name": "Lovelace", "date_of_birth": "1985-12-10"},
        )
        assert response.status_code == 302
    actions = views_of(pid)
    assert actions[-6:] == [Action.PATIENT_VIEW.value, Action.PATIENT_UPDATE.value] * 3
    assert chain_is_whole(world.clinic.id)


@pytest.mark.postgresql_only
def test_a_write_after_the_link_makes_the_commit_wait_again(
    app: Flask, world: Any, commit_modes: list[str]
) -> None:
    """A ``before_commit`` listener that runs after the audit link and writes (none of the
    app's does in a view, but one could) turns the wait back on for that commit."""

    def late_write(session: Any) -> None:
        session.connection().execute(
            update(Patient).where(Patient.id == world.patient.id).values(phone="416-555-0142")
        )

    event.listen(Session, "before_commit", late_write)
    try:
        patient = db.session.get(Patient, world.patient.id)
        with app.test_request_context("/"):
            audit.record(Action.PATIENT_VIEW, patient, actor=world.therapist)
            audit.commit_view()
    finally:
        event.remove(Session, "before_commit", late_write)
    assert commit_modes == ["on"]
    assert db.session.scalar(select(Patient.phone).where(Patient.id == world.patient.id)) == (
        "416-555-0142"
    )
    assert views_of(world.patient.id)[-1] == Action.PATIENT_VIEW.value
    assert chain_is_whole(world.clinic.id)
