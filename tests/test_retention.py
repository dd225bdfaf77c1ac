"""Retention (R4): nothing goes before its end; after it an owner may purge, audited.

The purge deletes the clinical rows, keeps the patient as an anonymised
tombstone and leaves every audit event as it was.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app import audit_chain
from app.audit import Action
from app.extensions import db
from app.models import (
    NO_SHOW,
    Amendment,
    AppliedProtocol,
    AuditEvent,
    Consent,
    HealthHistory,
    ImmutableRecordError,
    MissedVisitFee,
    Patient,
    PortalInvite,
    Receipt,
    ReceiptReissue,
    RecordCopy,
    RecordRequest,
    RetentionPurge,
    TreatmentSummary,
    User,
    Visit,
)
from app.oversight import retention
from app.oversight.retention import (
    PurgeRefused,
    RecordsPurged,
    add_years,
    retention_cutoffs,
    retention_end,
)
from app.patients.services import add_health_history, record_consent
from app.portal.record import fulfil
from app.portal.services import PortalRefused, invite, request_record
from app.receipts.documents import create_summary
from app.receipts.services import ReceiptRefused, record_missed_fee, reissue
from app.visits.services import VisitError, start_visit
from tests import factories as f

YEARS = 10
LAST_VISIT = date(2015, 3, 10)
END = date(2025, 3, 10)  # LAST_VISIT + 10 years, the patient being an adult then


# The arithmetic (no database) -------------------------------------------------------


def test_retention_end_for_an_adult_and_for_a_minor():
    assert retention_end(LAST_VISIT, date(1980, 1, 1), YEARS) == END
    # A minor at the last visit: ten years after the 18th birthday.
    assert retention_end(date(2020, 1, 1), date(2010, 5, 1), YEARS) == date(2038, 5, 1)
    # Turned 18 before the last visit: the last visit counts.
    assert retention_end(date(2020, 1, 1), date(2001, 12, 31), YEARS) == date(2030, 1, 1)
    # 29 February moves forward, never back.
    assert add_years(date(2016, 2, 29), 10) == date(2026, 3, 1)


def test_sql_cutoffs_agree_with_the_retention_end_on_every_day():
    """What the SQL filter uses is exactly ``today > retention_end`` (incl. leap days)."""
    births = [date(1980, 1, 1), date(2000, 2, 29), date(2004, 3, 1), date(2010, 6, 15)]
    for today in (date(2026, 2, 28), date(2026, 3, 1), date(2028, 2, 29), date(2030, 7, 1)):
        visit_by, born_by = retention_cutoffs(today, YEARS)
        for last in (today - timedelta(days=n) for n in range(3600, 3700)):
            for birth in births:
                expected = today > retention_end(last, birth, YEARS)
                assert (last <= visit_by and birth <= born_by) == expected, (today, last, birth)


# The database ------------------------------------------------------------------------


@pytest.fixture
def old_record(world):
    """An adult patient last seen on LAST_VISIT: a signed note with a protocol, an
    amendment, a receipt with a duplicate, a health history and a consent."""
    f.make_fee_schedule(world.clinic)
    patient = f.make_patient(world.clinic, given_name="Olga", family_name="Oldrecord")
    f.make_history(patient, world.therapist, ["migraine"])
    f.make_consent(patient, world.therapist, given_on=date(2014, 1, 1))
    f.make_visit(patient, world.therapist, signed=True, day=date(2014, 6, 1))
    visit = f.make_visit(
        patient,
        world.therapist,
        signed=True,
        day=LAST_VISIT,
        applied=[
            {
                "protocol_id": "tp-upper-trapezius",
                "title": "Upper trapezius",
                "category": "trigger_point",
            }
        ],
    )
    f.make_amendment(visit, world.therapist)
    reissue(f.make_receipt(visit), world.desk)
    db.session.commit()
    return patient


def _rows(model, patient_id: int) -> int:
    column = {
        AppliedProtocol: AppliedProtocol.visit_id.in_(
            select(Visit.id).where(Visit.patient_id == patient_id)
        ),
        Amendment: Amendment.visit_id.in_(select(Visit.id).where(Visit.patient_id == patient_id)),
        ReceiptReissue: ReceiptReissue.receipt_id.in_(
            select(Receipt.id).where(Receipt.patient_id == patient_id)
        ),
    }.get(model)
    cond = column if column is not None else model.patient_id == patient_id
    return db.session.scalar(select(func.count()).select_from(model).where(cond))


CLINICAL = (Visit, AppliedProtocol, Amendment, Receipt, ReceiptReissue, HealthHistory, Consent)


def test_not_purgeable_before_or_on_the_end_day(world, old_record):
    for today in (END - timedelta(days=1), END):
        with pytest.raises(PurgeRefused, match="must be kept until 2025-03-10"):
            retention.purge_patient(old_record, world.owner, YEARS, today)
        db.session.rollback()
    assert all(_rows(model, old_record.id) for model in CLINICAL)
    assert db.session.scalar(select(func.count()).select_from(RetentionPurge)) == 0

    due = retention.retention_due(world.clinic.id, YEARS, END)
    assert old_record.id not in [r.patient_id for r in due.rows]
    due = retention.retention_due(world.clinic.id, YEARS, END + timedelta(days=1))
    assert [(r.patient_id, r.last_visit, r.retention_end) for r in due.rows] == [
        (old_record.id, LAST_VISIT, END)
    ]


def test_a_minors_record_is_kept_ten_years_after_they_turn_18(world):
    child = f.make_patient(world.clinic, date_of_birth=date(2010, 5, 1))
    f.make_visit(child, world.therapist, signed=True, day=date(2012, 1, 1))
    db.session.commit()
    end = date(2038, 5, 1)
    with pytest.raises(PurgeRefused, match="2038-05-01"):
        retention.purge_patient(child, world.owner, YEARS, date(2031, 1, 2))
    db.session.rollback()

    def due(today):
        return [r.patient_id for r in retention.retention_due(world.clinic.id, YEARS, today).rows]

    assert child.id not in due(end)
    assert child.id in due(end + timedelta(days=1))


def test_purge_after_the_end_deletes_the_record_and_keeps_tombstone_and_audit(world, old_record):
    pid = old_record.id
    before = {
        e.id: (e.action, e.actor_id, e.created_at, e.details, e.patient_id)
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == pid))
    }
    assert before  # issuing the receipt and its duplicate were audited

    purge = retention.purge_patient(old_record, world.owner, YEARS, END + timedelta(days=1))
    db.session.commit()

    assert all(_rows(model, pid) == 0 for model in CLINICAL)
    assert purge.counts["visits"] == 2 and purge.counts["receipts"] == 1
    assert purge.counts["applied_protocols"] == 1 and purge.counts["amendments"] == 1
    db.session.expire_all()
    tombstone = db.session.get(Patient, pid)
    assert tombstone.full_name == f"Purged record {pid}"
    assert (tombstone.phone, tombstone.email, tombstone.date_of_birth) == ("", "", date(1900, 1, 1))
    after = {
        e.id: (e.action, e.actor_id, e.created_at, e.details, e.patient_id)
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == pid))
    }
    assert {k: after[k] for k in before} == before  # untouched
    (purged,) = [v for k, v in after.items() if k not in before]
    assert purged[0] == Action.PATIENT_PURGE
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == Action.PATIENT_PURGE))
    assert event.actor_id == world.owner.id and event.details["retention_end"] == "2025-03-10"

    with pytest.raises(PurgeRefused, match="already"):
        retention.purge_patient(tombstone, world.owner, YEARS, END + timedelta(days=2))
    db.session.rollback()
    assert retention.retention_due(world.clinic.id, YEARS, END + timedelta(days=2)).total == 0


def test_a_purge_moves_the_chart_stamp_and_the_chart_shows_no_records(world, old_record, login_as):
    """The purge deletes visits and receipts; the delete triggers move the patient's
    chart_stamp (migration 0010), and the chart viewed before shows none of them after."""
    pid = old_record.id
    client = login_as("therapist")
    before = client.get(f"/patients/{pid}").get_data(as_text=True)
    assert 'id="visits-h"' in before and "2015-03-10" in before
    stamp = db.session.scalar(select(Patient.chart_stamp).where(Patient.id == pid))

    retention.purge_patient(old_record, world.owner, YEARS, END + timedelta(days=1))
    db.session.commit()

    assert db.session.scalar(select(Patient.chart_stamp).where(Patient.id == pid)) != stamp
    after = client.get(f"/patients/{pid}").get_data(as_text=True)
    assert "Purged on" in after
    assert 'id="visits-h"' not in after and "2015-03-10" not in after


def test_only_an_owner_of_the_clinic_purges(world, old_record):
    for user in (world.therapist, world.desk, world.other_owner):
        with pytest.raises(PurgeRefused, match="Only an owner"):
            retention.purge_patient(old_record, user, YEARS, END + timedelta(days=30))
        db.session.rollback()


def test_the_database_refuses_deletes_without_an_approved_purge(world, old_record):
    other = f.make_patient(world.clinic)
    f.make_history(other, world.therapist)
    f.make_visit(other, world.therapist, signed=True, day=date(2014, 1, 1))
    db.session.commit()
    statements = [
        f"DELETE FROM {table} WHERE patient_id = :p"
        for table in ("visits", "receipts", "health_histories", "consents")
    ] + [
        "DELETE FROM amendments WHERE visit_id IN (SELECT id FROM visits WHERE patient_id = :p)",
        "DELETE FROM applied_protocols WHERE visit_id IN (SELECT id FROM visits WHERE patient_id = :p)",
        "DELETE FROM receipt_reissues WHERE receipt_id IN (SELECT id FROM receipts WHERE patient_id = :p)",
    ]
    for statement in statements:
        with pytest.raises(DBAPIError, match=r"cannot|append-only"):
            db.session.execute(text(statement), {"p": old_record.id})
        db.session.rollback()

    retention.purge_patient(old_record, world.owner, YEARS, END + timedelta(days=1))
    db.session.commit()
    # The purge of one patient opens nothing for another, nor for updates.
    for statement in ("DELETE FROM visits", "DELETE FROM health_histories"):
        with pytest.raises(DBAPIError, match=r"cannot|append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    for statement in ("UPDATE retention_purges SET counts = '{}'", "DELETE FROM retention_purges"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert _rows(Visit, other.id) == 1 and _rows(HealthHistory, other.id) == 1


def test_the_database_refuses_a_purge_row_before_the_end(world, old_record):
    """A hand-made approval cannot open the deletes early (a backstop for the service)."""
    recent = f.make_patient(world.clinic)
    f.make_visit(recent, world.therapist, signed=True, day=date(2024, 2, 1))
    db.session.commit()
    insert = text(
        "INSERT INTO retention_purges (clinic_id, patient_id, approved_by_id, purged_at, "
        "retention_end, counts) VALUES (:c, :p, :u, :now, :end, '{}')"
    )
    for clinic, patient in ((world.clinic, recent), (world.other_clinic, old_record)):
        values = {"c": clinic.id, "p": patient.id, "u": world.owner.id, "end": date(2000, 1, 1)}
        with pytest.raises(DBAPIError, match="purge refused"):
            db.session.execute(insert, {**values, "now": datetime(2026, 1, 1)})
        db.session.rollback()
    with pytest.raises(DBAPIError, match=r"cannot|append-only"):
        db.session.execute(text("DELETE FROM visits WHERE patient_id = :p"), {"p": recent.id})
    db.session.rollback()


def test_owner_purges_from_the_page_with_confirmation(app, world, login_as):
    old = f.make_patient(world.clinic, given_name="Petra", family_name="Pastdue")
    f.make_visit(old, world.therapist, signed=True, day=date(2010, 2, 1))
    recent = f.make_patient(world.clinic, given_name="Rita", family_name="Recent")
    f.make_visit(recent, world.therapist, signed=True, day=date(2024, 2, 1))
    db.session.commit()
    owner = login_as("owner")

    listing = owner.get("/admin/compliance/retention").get_data(as_text=True)
    assert "Petra Pastdue" in listing and "Rita Recent" not in listing
    page = owner.get(f"/admin/compliance/retention/{recent.id}/purge").get_data(as_text=True)
    assert "must be kept until 2034-02-01" in page and 'name="confirm"' not in page
    refused = owner.post(
        f"/admin/compliance/retention/{recent.id}/purge", {"confirm": str(recent.id)}
    )
    assert refused.status_code == 409
    assert _rows(Visit, recent.id) == 1

    url = f"/admin/compliance/retention/{old.id}/purge"
    assert 'name="confirm"' in owner.get(url).get_data(as_text=True)
    wrong = owner.post(url, {"confirm": str(recent.id)})
    assert wrong.status_code == 422 and _rows(Visit, old.id) == 1
    assert owner.post(url, {"confirm": str(old.id)}, csrf=False).status_code == 400
    response = owner.post(url, {"confirm": str(old.id)})
    assert response.status_code == 302
    assert _rows(Visit, old.id) == 0
    assert "Purged on" in owner.get(url).get_data(as_text=True)


# The command line ---------------------------------------------------------------------


def test_retention_report_lists_records_past_their_end(app, world):
    old = f.make_patient(world.clinic, given_name="Petra", family_name="Pastdue")
    f.make_visit(old, world.therapist, day=date(2010, 2, 1))
    recent = f.make_patient(world.clinic, given_name="Rita", family_name="Recent")
    f.make_visit(recent, world.therapist, day=date(2024, 2, 1))
    elsewhere = f.make_patient(world.other_clinic, given_name="Eli", family_name="Elsewhere")
    f.make_visit(elsewhere, world.other_therapist, day=date(2009, 1, 1))
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["retention", "report"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"  {old.id}\tPetra Pastdue\t2010-02-01\t2020-02-01" in lines
    assert f"  {elsewhere.id}\tEli Elsewhere\t2009-01-01\t2019-01-01" in lines
    assert "Rita Recent" not in result.output
    assert lines[0].startswith(f"Clinic {world.clinic.id} Harbour Massage Therapy: ")

    only = app.test_cli_runner().invoke(
        args=["retention", "report", "--clinic", str(world.clinic.id)]
    )
    assert only.exit_code == 0 and "Eli Elsewhere" not in only.output


def test_retention_purge_command_needs_an_owner_and_an_ended_period(app, world):
    old = f.make_patient(world.clinic)
    f.make_visit(old, world.therapist, signed=True, day=date(2010, 2, 1))
    recent = f.make_patient(world.clinic)
    f.make_visit(recent, world.therapist, signed=True, day=date(2024, 2, 1))
    db.session.commit()
    runner = app.test_cli_runner()

    def purge(patient, by):
        args = ["--clinic", world.clinic.id, "--patient", patient.id, "--by", by.email, "--yes"]
        return runner.invoke(args=["retention", "purge", *map(str, args)])

    assert purge(old, world.therapist).exit_code != 0
    refused = purge(recent, world.owner)
    assert refused.exit_code != 0 and "must be kept until 2034-02-01" in refused.output
    done = purge(old, world.owner)
    assert done.exit_code == 0, done.output
    assert "1 visits" in done.output
    assert _rows(Visit, old.id) == 0 and _rows(Visit, recent.id) == 1
    assert (
        db.session.scalar(select(func.count()).where(AuditEvent.action == Action.PATIENT_PURGE))
        == 1
    )


def test_purged_visits_are_no_longer_listed_as_problems(world):
    """A purged patient leaves no rows for the dashboard rules to trip on."""
    old = f.make_patient(world.clinic)
    f.make_visit_at(old, world.therapist, datetime(2010, 2, 1, 9, 0))
    db.session.commit()
    from app.oversight.services import unsigned_notes

    assert unsigned_notes(world.clinic.id, datetime(2026, 1, 1)).total == 1
    retention.purge_patient(old, world.owner, YEARS, date(2026, 1, 1))
    db.session.commit()
    assert unsigned_notes(world.clinic.id, datetime(2026, 1, 1)).total == 0


# Every copy of the record goes with it; a tombstone gets nothing new ---------------------


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def portal_record(app, world, old_record):
    """``old_record`` with everything the portal and the front desk add to a record: a
    portal account and invitation, a fulfilled record request (PDF and JSON of the
    whole chart) and an open one, a treatment summary, a missed-visit fee and a
    sensitive-area consent naming its visit."""
    app.config["MAIL_SERVER"] = "127.0.0.1"  # invite() needs email switched on; nothing is sent
    old_record.email = "olga@example.test"
    account = f.make_portal_user(old_record, email="olga@example.test")
    invite(old_record, world.owner)
    fulfil(f.make_record_request(old_record, account, note="All of it"), world.owner)
    f.make_record_request(old_record, account, note="And again")
    create_summary(old_record, date(2014, 1, 1), LAST_VISIT, actor=world.therapist)
    no_show = f.make_visit(old_record, world.therapist, day=date(2014, 9, 1), attendance=NO_SHOW)
    record_missed_fee(no_show, world.desk, fee_cents=2500, payment_method="debit")
    visit = db.session.scalar(select(Visit).where(Visit.patient_id == old_record.id).limit(1))
    f.make_consent(
        old_record, world.therapist, kind="sensitive_area", visit_id=visit.id, areas=["gluteal"],
        given_on=date(2014, 6, 1),
    )  # fmt: skip
    db.session.commit()
    return old_record, account


def test_purge_deletes_record_copies_requests_and_invitations(world, portal_record):
    patient, account = portal_record
    pid = patient.id
    assert (_count(RecordCopy), _count(RecordRequest), _count(PortalInvite)) == (1, 2, 1)
    before = {
        e.id: (e.action, e.actor_id, e.created_at, e.details, e.patient_id, e.hash)
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == pid))
    }
    assert {Action.RECORD_COPY_CREATE, Action.RECORD_REQUEST_CREATE, Action.PORTAL_INVITE} <= {
        v[0] for v in before.values()
    }

    purge = retention.purge_patient(patient, world.owner, YEARS, END + timedelta(days=1))
    db.session.commit()

    assert (_count(RecordCopy), _count(RecordRequest), _count(PortalInvite)) == (0, 0, 0)
    assert _count(TreatmentSummary) == _count(MissedVisitFee) == 0
    assert all(_rows(model, pid) == 0 for model in CLINICAL)
    db.session.expire_all()
    stored = db.session.scalar(select(RetentionPurge).where(RetentionPurge.patient_id == pid))
    assert stored.id == purge.id
    assert {
        name: stored.counts[name]
        for name in (
            "record_copies", "record_requests", "portal_invites", "treatment_summaries",
            "missed_visit_fees", "consents", "visits",
        )
    } == {
        "record_copies": 1, "record_requests": 2, "portal_invites": 1, "treatment_summaries": 1,
        "missed_visit_fees": 1, "consents": 2, "visits": 3,
    }  # fmt: skip
    # The portal account stays (the audit log names it), signed out, without her name or email.
    account = db.session.get(User, account.id)
    assert not account.active and account.patient_id == pid
    assert account.full_name == f"Purged record {pid}" and "olga" not in account.email
    after = {
        e.id: (e.action, e.actor_id, e.created_at, e.details, e.patient_id, e.hash)
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == pid))
    }
    assert {k: after[k] for k in before} == before  # untouched
    assert [v[0] for k, v in after.items() if k not in before] == [Action.PATIENT_PURGE]
    assert audit_chain.verify(db.session, audit_chain.chain_of(world.clinic.id)).ok


def test_the_database_refuses_deleting_record_copies_without_a_purge(world, old_record):
    """Requests and copies stay append-only: a DELETE passes only for a purged patient,
    and a copy's patient is the one of its request."""
    other = f.make_patient(world.clinic)

    def request_and_copy(patient, copy_patient=None):
        request = f.make_record_request(patient, world.owner)
        copy = RecordCopy(
            clinic_id=world.clinic.id, patient_id=(copy_patient or patient).id,
            request_id=request.id, created_by_id=world.owner.id, pdf_data=b"%PDF- chart",
            pdf_sha256="0" * 64, json_data=b"{}", json_sha256="0" * 64,
        )  # fmt: skip
        db.session.add(copy)
        db.session.flush()
        return request.id, copy.id

    request_and_copy(old_record)
    theirs = request_and_copy(other)
    db.session.commit()
    refused = r"append-only"
    for statement in (
        "DELETE FROM record_copies WHERE patient_id = :p",
        "DELETE FROM record_requests WHERE patient_id = :p",
        "UPDATE record_copies SET pdf_sha256 = 'x' WHERE patient_id = :p",
        "UPDATE record_requests SET note = 'x' WHERE patient_id = :p",
    ):
        with pytest.raises(DBAPIError, match=refused):
            db.session.execute(text(statement), {"p": old_record.id})
        db.session.rollback()

    retention.purge_patient(old_record, world.owner, YEARS, END + timedelta(days=1))
    db.session.commit()
    # A copy naming the purged patient but made for another patient's request stays.
    _request, stray = request_and_copy(other, copy_patient=old_record)
    db.session.commit()
    for statement, values in (
        ("DELETE FROM record_copies", {}),
        ("DELETE FROM record_copies WHERE id = :c", {"c": stray}),
        ("DELETE FROM record_requests", {}),
        ("UPDATE record_requests SET note = 'x'", {}),
    ):
        with pytest.raises(DBAPIError, match=refused):
            db.session.execute(text(statement), values)
        db.session.rollback()
    with pytest.raises(ImmutableRecordError):
        db.session.delete(db.session.get(RecordCopy, theirs[1]))
        db.session.flush()
    db.session.rollback()
    assert _count(RecordCopy) == 2 and _count(RecordRequest) == 2


def test_nothing_new_is_recorded_for_a_purged_patient(app, world, old_record):
    app.config["MAIL_SERVER"] = "127.0.0.1"
    account = f.make_portal_user(old_record)
    db.session.commit()
    purge = retention.purge_patient(old_record, world.owner, YEARS, END + timedelta(days=1))
    db.session.commit()
    assert retention.is_purged(old_record) and not retention.is_purged(world.patient)
    old_record.email = "olga@example.test"  # even with an address again, no invitation
    # A visit that reached the database some other way (an import) gets no receipt either.
    stray = f.make_visit(old_record, world.therapist, signed=True, day=date(2026, 1, 5))
    db.session.commit()
    models = (
        Visit, HealthHistory, Consent, Receipt, TreatmentSummary, PortalInvite, RecordRequest,
        AuditEvent,
    )  # fmt: skip
    before = {model: _count(model) for model in models}
    message = (
        f"purged on {purge.purged_at:%Y-%m-%d} under the retention rule \\(R4\\); "
        "nothing new can be recorded"
    )
    visit_data = {"visit_date": date(2026, 1, 6), "start_time": time(9, 0), "duration_minutes": 60}
    history = {"conditions": ["migraine"], "medications": "None"}
    consent = {"given_on": date(2026, 1, 6), "method": "written", "elements": ["nature"]}
    refused = [
        (VisitError, lambda: start_visit(old_record, world.therapist, visit_data)),
        (RecordsPurged, lambda: add_health_history(old_record, world.therapist, history)),
        (RecordsPurged, lambda: record_consent(old_record, world.therapist, consent)),
        (ReceiptRefused, lambda: f.make_receipt(stray)),
        (PortalRefused, lambda: invite(old_record, world.owner)),
        (PortalRefused, lambda: request_record(old_record, account, "A copy please")),
    ]
    for error, action in refused:
        with pytest.raises(error, match=message):
            action()
        assert not db.session.new
        db.session.rollback()
    db.session.commit()
    assert {model: _count(model) for model in models} == before


def test_the_patient_page_of_a_purged_patient_shows_the_purge(world, login_as):
    old = f.make_patient(world.clinic, given_name="Petra", family_name="Pastdue")
    f.make_history(old, world.therapist, ["migraine"])
    f.make_visit(old, world.therapist, signed=True, day=date(2010, 2, 1))
    db.session.commit()
    therapist = login_as("therapist")
    page = therapist.get(f"/patients/{old.id}").get_data(as_text=True)
    assert "Health history" in page and "under the retention rule" not in page

    purge = retention.purge_patient(old, world.owner, YEARS, date(2026, 1, 1))
    db.session.commit()
    response = therapist.get(f"/patients/{old.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Purged on {purge.purged_at:%Y-%m-%d} under the retention rule" in page
    for section in ("Health history", "Record consent", "Consent to treatment", "Start a visit"):
        assert section not in page


def test_forms_of_a_purged_patient_answer_with_the_reason(world, old_record, login_as):
    """Reaching a form of a purged patient directly shows why, and writes nothing."""
    retention.purge_patient(old_record, world.owner, YEARS, END + timedelta(days=1))
    db.session.commit()
    models = (Visit, HealthHistory, Consent)
    before = {model: _count(model) for model in models}
    therapist = login_as("therapist")

    started = therapist.post(
        f"/patients/{old_record.id}/visits/new",
        {"visit_date": "2026-01-06", "start_time": "09:00", "duration_minutes": "60",
         "location_id": "0"},
    )  # fmt: skip
    history = therapist.post(
        f"/patients/{old_record.id}/health-history/new", {"medications": "None"}
    )

    assert "under the retention rule" in started.get_data(as_text=True)
    assert history.status_code == 409
    assert "under the retention rule" in history.get_data(as_text=True)
    assert {model: _count(model) for model in models} == before
