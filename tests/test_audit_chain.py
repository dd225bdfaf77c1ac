"""The tamper-evident audit log (R5): a hash chain per clinic, guarded in SQL.

An attacker here has direct database access: the tests switch the guard
triggers off (as a superuser could) and change, remove, insert or reorder rows,
then check that ``flask audit verify`` names the first event that no longer
fits and exits non-zero.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import audit, audit_chain, create_app
from app.audit import Action
from app.extensions import db
from app.models import AuditChainHead, AuditEvent
from tests.conftest import PG_ADMIN_URL, base_config

SQLITE_GUARDS = ("audit_events_append_only_update", "audit_events_append_only_delete")


def _events(clinic_id: int) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.clinic_id == clinic_id).order_by(AuditEvent.seq)
        )
    )


def _views(world, count: int) -> list[AuditEvent]:
    """``count`` chart views by the therapist, one commit each."""
    for _ in range(count):
        audit.record(Action.PATIENT_VIEW, world.patient, actor=world.therapist)
        db.session.commit()
    return _events(world.clinic.id)


def test_the_head_takes_the_hash_of_the_event_that_reaches_it(world):
    """Linking sends the head's new hash with the INSERT (a trigger, migration 0009): after
    a batch of events in one commit, the head holds the last one's place and hash, and an
    event inserted at another place leaves the head alone."""
    for _ in range(3):
        audit.record(Action.PATIENT_VIEW, world.patient, actor=world.therapist)
    db.session.commit()
    events = _events(world.clinic.id)
    head = db.session.get(AuditChainHead, world.clinic.id)
    assert [e.seq for e in events][-3:] == [head.seq - 2, head.seq - 1, head.seq]
    assert head.hash == events[-1].hash != events[-2].hash
    last = events[-1]
    db.session.execute(
        AuditEvent.__table__.insert().values(
            clinic_id=world.clinic.id, action="forged:insert", subject_type="", details={},
            created_at=last.created_at, seq=head.seq + 5, prev_hash=last.hash, hash="f" * 64,
            ip="",
        )
    )  # fmt: skip
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(AuditChainHead, world.clinic.id).hash == last.hash


@contextmanager
def tampering(backend: str):
    """A raw connection with the audit guards switched off, committed at the end."""
    with db.engine.begin() as conn:
        if backend == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for name in SQLITE_GUARDS:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        yield conn
    db.session.expire_all()


def _verify(app, clinic_id: int):
    return app.test_cli_runner().invoke(args=["audit", "verify", "--clinic", str(clinic_id)])


def test_events_form_one_unbroken_chain_per_clinic(app, world):
    audit.record(Action.PATIENT_VIEW, world.patient, actor=world.therapist)
    audit.record(Action.HISTORY_VIEW, world.patient, actor=world.therapist)
    db.session.commit()  # two links in one commit
    audit.record(Action.PATIENT_VIEW, world.other_patient, actor=world.other_therapist)
    events = _views(world, 3)
    db.session.commit()

    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit_chain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    assert all(e.hash == audit_chain.content_hash(e) for e in events)
    head = db.session.get(AuditChainHead, world.clinic.id)
    assert (head.seq, head.hash) == (5, events[-1].hash)
    other = _events(world.other_clinic.id)
    assert [e.seq for e in other] == [1]  # the other clinic keeps its own chain
    assert audit_chain.verify(db.session(), world.clinic.id).ok


def test_a_rolled_back_event_takes_no_place_in_the_chain(app, world):
    audit.record(Action.PATIENT_VIEW, world.patient, actor=world.therapist)
    db.session.rollback()
    events = _views(world, 1)
    assert [(e.seq, e.prev_hash) for e in events] == [(1, audit_chain.GENESIS)]


def test_verify_reports_an_intact_chain_and_records_the_check(app, world):
    _views(world, 4)
    result = _verify(app, world.clinic.id)
    assert result.exit_code == 0, result.output
    assert f"clinic {world.clinic.id}: intact, 4 events" in result.output
    check = _events(world.clinic.id)[-1]
    assert check.action == "audit:verify"
    assert check.details["intact"] is True and check.details["events"] == 4
    assert _verify(app, world.clinic.id).exit_code == 0  # the check itself is a valid link


def _change(conn, events):
    conn.execute(
        text("UPDATE audit_events SET action = 'patient:create' WHERE id = :id"),
        {"id": events[2].id},
    )
    return events[2].id, "content was changed"


def _delete_middle(conn, events):
    conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[2].id})
    return events[3].id, "links 3–3 are missing"


def _delete_last(conn, events):
    conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[-1].id})
    return None, "head records link 6"


def _copy(conn, event, **changes):
    row = {
        "clinic_id": event.clinic_id,
        "actor_id": event.actor_id,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "patient_id": event.patient_id,
        "ip": "",
        "created_at": event.created_at,
        "details": "{}",
        "seq": event.seq,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    } | changes
    columns = ", ".join(row)
    values = ", ".join(f":{c}" for c in row)
    conn.execute(text(f"INSERT INTO audit_events ({columns}) VALUES ({values})"), row)
    return conn.execute(text("SELECT max(id) FROM audit_events")).scalar()


def _insert_naive(conn, events):
    inserted = _copy(conn, events[-1], seq=7, prev_hash="f" * 64, hash="e" * 64)
    return inserted, "does not follow"


def _insert_forged(conn, events):
    """A careful forger: renumbers the rest and computes a valid hash for the new row."""
    for later in reversed(events[3:]):
        conn.execute(text("UPDATE audit_events SET seq = seq + 1 WHERE id = :id"), {"id": later.id})
    template = events[2]

    class Forged:
        clinic_id, seq, prev_hash = template.clinic_id, 4, template.hash
        created_at, actor_id, action = template.created_at, template.actor_id, "patient:view"
        subject_type, subject_id = template.subject_type, template.subject_id
        patient_id, ip, details = template.patient_id, "", {}

    _copy(conn, template, seq=4, prev_hash=template.hash, hash=audit_chain.content_hash(Forged))
    return events[3].id, "does not follow"


def _reorder(conn, events):
    a, b = events[2], events[3]
    conn.execute(text("UPDATE audit_events SET seq = -1 WHERE id = :id"), {"id": a.id})
    conn.execute(text("UPDATE audit_events SET seq = :s WHERE id = :id"), {"s": a.seq, "id": b.id})
    conn.execute(text("UPDATE audit_events SET seq = :s WHERE id = :id"), {"s": b.seq, "id": a.id})
    return b.id, "does not follow"


TAMPERING = {
    "change": _change,
    "delete-middle": _delete_middle,
    "delete-last": _delete_last,
    "insert-naive": _insert_naive,
    "insert-forged": _insert_forged,
    "reorder": _reorder,
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_verify_finds_tampering(app, world, backend, kind):
    events = _views(world, 6)
    with tampering(backend) as conn:
        first_bad, message = TAMPERING[kind](conn, events)

    report = audit_chain.verify(db.session(), world.clinic.id)  # reads only
    result = _verify(app, world.clinic.id)  # also records its outcome as a new link

    assert result.exit_code == 1
    assert not report.ok
    assert report.first_bad_id == first_bad
    if first_bad is not None:
        assert f"BROKEN at event #{first_bad}" in result.output
    assert message in result.output


def test_guards_refuse_update_and_delete_of_audit_events(app, world):
    event = _views(world, 2)[-1]
    for statement in (
        "UPDATE audit_events SET action = 'patient:create' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement), {"id": event.id})
        db.session.rollback()
    assert [e.action for e in _events(world.clinic.id)] == ["patient:view"] * 2


def test_the_chain_head_only_moves_forward(app, world):
    _views(world, 2)
    chain = {"c": world.clinic.id}
    for statement in (
        "UPDATE audit_chain_heads SET seq = 1 WHERE chain_id = :c",
        "DELETE FROM audit_chain_heads WHERE chain_id = :c",
    ):
        with pytest.raises(DBAPIError, match="only moves forward"):
            db.session.execute(text(statement), chain)
        db.session.rollback()
    assert db.session.get(AuditChainHead, world.clinic.id).seq == 2


def test_owner_sees_the_chain_state_and_can_check_it(app, world, backend, login_as):
    _views(world, 3)
    owner = login_as("owner")
    page = owner.get("/admin/audit").get_data(as_text=True)
    assert "Tamper check" in page and "Last full check" in page
    assert "never" in page

    checked = owner.post("/admin/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "The audit chain is intact" in checked
    assert "intact (" in checked  # the last check, shown with its count

    events = _events(world.clinic.id)
    with tampering(backend) as conn:
        _change(conn, events)
    broken = owner.post("/admin/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert f"broken at event #{events[2].id}" in broken
    assert "content was changed" in broken


def test_concurrent_writers_share_one_chain(app, world):
    clinic_id, patient_id, actor_id = world.clinic.id, world.patient.id, world.therapist.id
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with app.app_context():
                from app.models import Patient, User

                patient = db.session.get(Patient, patient_id)
                actor = db.session.get(User, actor_id)
                for _ in range(5):
                    audit.record(Action.PATIENT_VIEW, patient, actor=actor)
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    events = _events(clinic_id)
    assert [e.seq for e in events] == list(range(1, 31))
    assert audit_chain.verify(db.session(), clinic_id).ok


@pytest.fixture
def blank_database_url(backend, tmp_path, request):
    """An empty database of the current backend, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    server = request.getfixturevalue("pg_server")
    name = f"stillpoint_upgrade_{uuid.uuid4().hex[:10]}"
    server.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_links_events_written_before_the_chain(blank_database_url, tmp_path: Path):
    migrating = create_app(base_config(blank_database_url, tmp_path))
    with migrating.app_context():
        upgrade(revision="0003")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO clinics (name, address, phone, email, business_number, "
                    "jurisdiction, retention_years, created_at) "
                    "VALUES ('Old clinic', '', '', '', '', 'ON', 10, :t)"
                ),
                {"t": "2026-01-05 09:00:00"},
            )
            for action in ("auth:signin", "patient:view", "patient:update"):
                conn.execute(
                    text(
                        "INSERT INTO audit_events (clinic_id, action, subject_type, ip, "
                        "created_at, details) VALUES (1, :a, '', '', :t, '{}')"
                    ),
                    {"a": action, "t": "2026-01-05 10:00:00"},
                )
        upgrade()
        events = _events(1)
        assert [e.seq for e in events] == [1, 2, 3]
        assert audit_chain.verify(db.session(), 1).ok
        db.session.remove()
        db.engine.dispose()


def test_one_event_is_linked_in_one_statement_with_the_same_hash(app, world, backend):
    """A single event (every audited page view) is linked by one statement on PostgreSQL,
    the database hashing the payload around its place; the hash is the one content_hash
    gives, which is the payload of the chain's first version (stillpoint-audit-v1)."""
    import hashlib
    import json

    from sqlalchemy import event

    awkward = {
        "query": 'Ünïcode "quotes" \\ back\\slash',
        "n": [1, 2.5, None],
        "z": {"b": 1, "a": True},
    }
    audit.record(Action.PATIENT_SEARCH, actor=world.therapist, **awkward)
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    linked = [s for s in seen if "audit_events" in s or "audit_chain_heads" in s]
    assert len(linked) == (1 if backend == "postgresql" else 2), linked

    stored = _events(world.clinic.id)[-1]
    assert stored.details == awkward
    version_one = json.dumps(
        ["stillpoint-audit-v1", world.clinic.id, stored.seq, stored.prev_hash,
         stored.created_at.astimezone(audit_chain.UTC).isoformat(timespec="microseconds"),
         stored.actor_id, stored.action, stored.subject_type, stored.subject_id,
         stored.patient_id, stored.ip, stored.details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    assert stored.hash == hashlib.sha256(version_one.encode()).hexdigest()
    assert stored.hash == audit_chain.content_hash(stored)
    head = db.session.get(AuditChainHead, world.clinic.id)
    assert (head.seq, head.hash) == (stored.seq, stored.hash)
    _views(world, 2)
    assert audit_chain.verify(db.session(), world.clinic.id).ok
