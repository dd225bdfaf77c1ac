"""The owner's compliance dashboard (B7, R5) and the per-RMT billing report.

Every rule is tried with data that trips it and data that just does not, and
never shows another clinic's records. The dashboard's statement count does not
grow with the data.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import AuditEvent, ComplianceSettings, Receipt, utcnow
from app.oversight import billing, services
from app.receipts.services import ReceiptRefused, issue_receipt, reissue, void
from app.visits.services import local_now
from tests import factories as f

NOW = datetime(2026, 6, 10, 12, 0)  # the clinic's wall clock in the rule tests


def ids(section, key="visit_id"):
    return sorted(getattr(r, key) for r in section.rows)


@pytest.fixture
def billed(world):
    """Both clinics can issue receipts."""
    f.make_fee_schedule(world.clinic)
    f.make_fee_schedule(world.other_clinic)
    db.session.commit()
    return world


# Unsigned notes ------------------------------------------------------------------


def test_unsigned_notes_after_48_hours_not_47(world):
    late = f.make_visit_at(world.patient, world.therapist, NOW - timedelta(hours=49))
    f.make_visit_at(world.patient, world.therapist, NOW - timedelta(hours=47))
    f.make_visit_at(world.patient, world.therapist2, NOW - timedelta(hours=72), signed=True)
    f.make_visit_at(
        world.patient, world.therapist2, NOW - timedelta(hours=80), attendance="cancelled"
    )
    f.make_visit_at(world.other_patient, world.other_therapist, NOW - timedelta(days=9))
    db.session.commit()

    found = services.unsigned_notes(world.clinic.id, NOW)
    assert ids(found) == [late.id]
    assert found.total == 1
    assert found.rows[0].patient_name == "Ada Lovelace"
    assert found.rows[0].therapist_name == "Theo Therapist"


# Overlaps ------------------------------------------------------------------------


def test_overlapping_visits_but_not_back_to_back(world):
    day = datetime(2026, 5, 4, 9, 0)
    first = f.make_visit_at(world.patient, world.therapist, day, 60)
    second = f.make_visit_at(world.patient, world.therapist, day + timedelta(hours=1), 60)
    db.session.commit()
    assert services.overlapping_visits(world.clinic.id).total == 0  # they only touch

    third = f.make_visit_at(world.patient, world.therapist, day + timedelta(minutes=90), 60)
    # Not overlaps: another therapist at the same time, a cancelled visit, another clinic.
    f.make_visit_at(world.patient, world.therapist2, day + timedelta(minutes=90), 60)
    f.make_visit_at(world.patient, world.therapist, day, 60, attendance="cancelled")
    f.make_visit_at(world.other_patient, world.other_therapist, day, 60)
    f.make_visit_at(world.other_patient, world.other_therapist, day + timedelta(minutes=30), 60)
    db.session.commit()

    found = services.overlapping_visits(world.clinic.id)
    assert [(r.first_id, r.second_id) for r in found.rows] == [(second.id, third.id)]
    assert found.total == 1
    assert first.id not in {found.rows[0].first_id, found.rows[0].second_id}


def test_visits_starting_together_are_one_pair(world):
    day = datetime(2026, 5, 5, 14, 0)
    a = f.make_visit_at(world.patient, world.therapist, day, 30)
    b = f.make_visit_at(world.patient, world.therapist, day, 60)
    db.session.commit()
    found = services.overlapping_visits(world.clinic.id)
    assert [(r.first_id, r.second_id) for r in found.rows] == [(a.id, b.id)]


# Minutes per day -----------------------------------------------------------------


def _fill_day(patient, therapist, day: datetime, minutes: list[int]) -> None:
    start = day
    for length in minutes:
        f.make_visit_at(patient, therapist, start, length)
        start += timedelta(minutes=length)


def test_a_day_over_the_working_day_but_not_exactly_it(world):
    day = datetime(2026, 5, 6, 8, 0)
    _fill_day(world.patient, world.therapist, day, [60] * 8)  # exactly 480
    _fill_day(world.patient, world.therapist2, day, [60] * 7 + [61])  # 481
    f.make_visit_at(
        world.patient, world.therapist, day + timedelta(hours=9), 90, attendance="no_show"
    )
    _fill_day(world.other_patient, world.other_therapist, day, [90] * 8)
    db.session.commit()

    found = services.overbooked_days(world.clinic.id, 480)
    assert [(r.therapist_id, r.day, r.minutes, r.visits) for r in found.rows] == [
        (world.therapist2.id, date(2026, 5, 6), 481, 8)
    ]
    assert services.overbooked_days(world.clinic.id, 481).total == 0
    assert services.overbooked_days(world.clinic.id, 479).total == 2


def test_working_day_is_a_clinic_setting(world, login_as):
    _fill_day(world.patient, world.therapist, datetime(2026, 5, 7, 8, 0), [60] * 9)
    db.session.commit()
    owner = login_as("owner")
    page = owner.get("/admin/compliance/").get_data(as_text=True)
    assert "540" in page and "A working day is 480 minutes" in page

    response = owner.post(
        "/admin/compliance/settings",
        {"working_day_minutes": "600", "snoop_min_patients": "5", "snoop_window_days": "14"},
    )
    assert response.status_code == 302
    settings = db.session.get(ComplianceSettings, world.clinic.id)
    assert (settings.working_day_minutes, settings.snoop_min_patients) == (600, 5)
    page = owner.get("/admin/compliance/").get_data(as_text=True)
    assert "A working day is 600 minutes" in page
    assert services.overbooked_days(world.clinic.id, settings.working_day_minutes).total == 0
    assert db.session.scalar(
        select(func.count()).where(AuditEvent.action == Action.COMPLIANCE_UPDATE)
    )

    bad = owner.post(
        "/admin/compliance/settings",
        {"working_day_minutes": "0", "snoop_min_patients": "5", "snoop_window_days": "14"},
    )
    assert bad.status_code == 302
    db.session.expire_all()
    assert db.session.get(ComplianceSettings, world.clinic.id).working_day_minutes == 600


# Amendments after the receipt ----------------------------------------------------


def test_note_amended_after_its_receipt_but_not_before(billed):
    w = billed
    before = f.make_visit(w.patient, w.therapist, signed=True, day=date(2026, 5, 1))
    after = f.make_visit(w.patient, w.therapist, signed=True, day=date(2026, 5, 2))
    other = f.make_visit(w.other_patient, w.other_therapist, signed=True, day=date(2026, 5, 2))
    receipts = {v.id: f.make_receipt(v) for v in (before, after, other)}
    for visit, shift in ((before, -1), (after, +1), (other, +1)):
        stamp = receipts[visit.id].issued_at + timedelta(minutes=shift)
        f.make_amendment(visit, visit.therapist, created_at=stamp)
    db.session.commit()

    found = services.amended_after_receipt(w.clinic.id)
    assert ids(found) == [after.id]
    row = found.rows[0]
    assert row.receipt_id == receipts[after.id].id and row.amendments == 1
    assert row.amended_at > row.issued_at


# Reissues --------------------------------------------------------------------------


def test_three_reissues_are_listed_two_are_not(billed):
    w = billed
    twice = f.make_receipt(f.make_visit(w.patient, w.therapist, signed=True, day=date(2026, 5, 1)))
    thrice = f.make_receipt(f.make_visit(w.patient, w.therapist, signed=True, day=date(2026, 5, 2)))
    other = f.make_receipt(
        f.make_visit(w.other_patient, w.other_therapist, signed=True, day=date(2026, 5, 2))
    )
    for receipt, copies in ((twice, 2), (thrice, 3), (other, 4)):
        for _ in range(copies):
            reissue(receipt, w.desk)
    db.session.commit()

    found = services.reissued_often(w.clinic.id)
    assert [(r.receipt_id, r.reissues) for r in found.rows] == [(thrice.id, 3)]


# Visits without a receipt ----------------------------------------------------------


def test_signed_visits_without_a_receipt_in_force(billed):
    w = billed
    old = NOW - timedelta(days=2)
    unbilled = f.make_visit_at(w.patient, w.therapist, old, signed=True)
    billed_ok = f.make_visit_at(w.patient, w.therapist, old - timedelta(hours=3), signed=True)
    voided = f.make_visit_at(w.patient, w.therapist, old - timedelta(hours=6), signed=True)
    f.make_visit_at(w.patient, w.therapist, NOW - timedelta(hours=20), signed=True)  # too recent
    f.make_visit_at(w.patient, w.therapist2, old)  # a draft: listed as unsigned instead
    f.make_visit_at(w.other_patient, w.other_therapist, old, signed=True)
    f.make_receipt(billed_ok)
    void(f.make_receipt(voided), w.owner, "Wrong amount")
    db.session.commit()

    found = services.visits_without_receipt(w.clinic.id, NOW)
    assert ids(found) == sorted([unbilled.id, voided.id])


# Receipts without a signed visit: impossible, and proved so ------------------------


def test_receipts_without_a_signed_visit_stay_empty_whatever_one_tries(billed):
    w = billed
    signed = f.make_visit(w.patient, w.therapist, signed=True, day=date(2026, 5, 1))
    receipt = f.make_receipt(signed)
    draft = f.make_visit(w.patient, w.therapist, day=date(2026, 5, 2))
    cancelled = f.make_visit(w.patient, w.therapist, day=date(2026, 5, 3), attendance="cancelled")
    db.session.commit()
    assert services.receipts_without_signed_visit(w.clinic.id).total == 0

    for visit in (draft, cancelled):  # the service refuses
        with pytest.raises(ReceiptRefused):
            issue_receipt(visit, w.owner, fee_cents=12000, payment_method="debit")
        db.session.rollback()

    columns = [
        c.key for c in Receipt.__table__.columns if c.key not in {"id", "visit_id", "number"}
    ]
    for visit in (draft, cancelled):  # the database refuses a hand-made row
        with pytest.raises(DBAPIError, match="receipt refused"):
            db.session.execute(
                text(
                    f"INSERT INTO receipts (visit_id, number, {', '.join(columns)}) "
                    f"SELECT :visit, 900, {', '.join(columns)} FROM receipts WHERE id = :id"
                ),
                {"visit": visit.id, "id": receipt.id},
            )
        db.session.rollback()

    with pytest.raises(DBAPIError, match="signed"):  # nor can the billed note be un-signed
        db.session.execute(
            text("UPDATE visits SET status = 'draft' WHERE id = :id"), {"id": signed.id}
        )
    db.session.rollback()

    assert services.receipts_without_signed_visit(w.clinic.id).total == 0
    assert services.receipts_without_signed_visit(w.other_clinic.id).total == 0


# Chart snooping ----------------------------------------------------------------------


def _views(actor, patients, action=Action.PATIENT_VIEW):
    for patient in patients:
        audit.record(action, patient, actor=actor)


def test_staff_opening_charts_of_patients_they_never_treated(world):
    patients = [f.make_patient(world.clinic) for _ in range(4)]
    for patient in patients[:3]:  # the therapist treated three of them
        f.make_visit(patient, world.therapist, day=date(2026, 1, 5))
    _views(world.therapist, patients[:3])  # own patients: fine
    _views(world.therapist, patients[3:], Action.VISIT_VIEW)  # one stranger: under threshold
    _views(world.therapist2, patients[:3], Action.HISTORY_VIEW)  # three strangers
    _views(world.therapist2, patients[:3])  # the same three again: still three patients
    _views(world.other_therapist, [world.other_patient] * 5)
    db.session.commit()

    found = services.chart_snooping(world.clinic.id, utcnow(), min_patients=3, window_days=30)
    assert [(r.actor_id, r.patients, r.views) for r in found.rows] == [(world.therapist2.id, 3, 6)]
    assert services.chart_snooping(world.clinic.id, utcnow(), min_patients=4).total == 0
    later = utcnow() + timedelta(days=31)  # the views fall out of the window
    assert services.chart_snooping(world.clinic.id, later, min_patients=3).total == 0
    elsewhere = services.chart_snooping(world.other_clinic.id, utcnow(), min_patients=1)
    assert [r.actor_id for r in elsewhere.rows] == [world.other_therapist.id]  # their own list


# The page ------------------------------------------------------------------------------


def _trip_every_rule(w, n: int, start: datetime) -> None:
    """``n`` items for every rule, in clinic A and in the other clinic."""
    for i in range(n):
        day = start + timedelta(days=i)
        draft = f.make_visit_at(w.patient, w.therapist, day, 60)
        f.make_visit_at(w.patient, w.therapist, day + timedelta(minutes=30), 60)  # overlap
        _fill_day(w.patient, w.therapist2, day.replace(hour=7), [100] * 5)  # 500 minutes
        signed = f.make_visit_at(w.patient, w.therapist, day + timedelta(hours=6), signed=True)
        receipt = f.make_receipt(signed)
        f.make_amendment(signed, w.therapist, created_at=utcnow() + timedelta(minutes=5))
        for _ in range(3):
            reissue(receipt, w.desk)
        f.make_visit_at(w.patient, w.therapist, day + timedelta(hours=8), signed=True)  # unbilled
        stranger = f.make_patient(w.clinic, date_of_birth=date(1950, 1, 1))
        f.make_visit_at(stranger, w.therapist2, datetime(2001, 1, 1, 9, 0) + timedelta(days=i))
        _views(w.desk, [stranger, f.make_patient(w.clinic)])
        assert draft.status == "draft"
        f.make_visit_at(w.other_patient, w.other_therapist, day, 60)
        f.make_visit_at(w.other_patient, w.other_therapist, day + timedelta(minutes=10), 60)


def test_dashboard_lists_every_rule_for_the_owner_only_from_their_clinic(billed, login_as):
    w = billed
    db.session.merge(ComplianceSettings(clinic_id=w.clinic.id, snoop_min_patients=2))
    _trip_every_rule(w, 1, datetime(2026, 3, 2, 9, 0))
    w.other_patient.given_name = "Zebedee"
    db.session.commit()

    response = login_as("owner").get("/admin/compliance/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for heading in (
        "Unsigned notes older than 48 hours",
        "Overlapping visits of one therapist",
        "More visit-minutes in a day than a working day",
        "Notes amended after their receipt was issued",
        "Receipts reissued more than twice",
        "Signed visits without a receipt",
        "Receipts whose visit is not signed",
        "Staff who opened charts of patients they never treated",
        "Patients past the retention period (R4)",
    ):
        assert heading in page
    assert page.count("<caption") >= 8
    assert "Dana Desk" in page  # the snooping front desk
    assert "Zebedee" not in page and "Otherclinic" not in page
    assert "/visits/" in page and "/receipts/" in page and "/purge" in page
    assert db.session.scalar(
        select(func.count()).where(AuditEvent.action == Action.COMPLIANCE_VIEW)
    )


def test_dashboard_statement_count_does_not_grow_with_the_data(billed, app, login_as):
    w = billed
    owner = login_as("owner")
    statements: list[str] = []

    def count(*args, **kwargs):
        statements.append(args[2])

    def dashboard_statements() -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert owner.get("/admin/compliance/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    _trip_every_rule(w, 1, datetime(2026, 3, 2, 9, 0))
    db.session.commit()
    dashboard_statements()  # warm up: first-time rows such as the audit chain's head
    small = dashboard_statements()
    _trip_every_rule(w, 12, datetime(2026, 4, 1, 9, 0))
    db.session.commit()
    large = dashboard_statements()
    assert small == large, statements
    assert large <= 25  # nine rules, settings, the signed-in user, the audit event


# The RMT billing report ----------------------------------------------------------------


@pytest.fixture
def rmt_receipts(billed):
    w = billed
    mine = [
        f.make_receipt(f.make_visit(w.patient, w.therapist, signed=True, day=date(2026, 5, d)))
        for d in (1, 2, 3)
    ]
    void(mine[2], w.owner, "Wrong amount")
    theirs = f.make_receipt(
        f.make_visit(w.patient, w.therapist2, signed=True, day=date(2026, 5, 1))
    )
    elsewhere = f.make_receipt(
        f.make_visit(w.other_patient, w.other_therapist, signed=True, day=date(2026, 5, 1))
    )
    db.session.commit()
    return w, mine, theirs, elsewhere


def _period():
    today = local_now(current_app.config["TIMEZONE"]).date()
    return today - timedelta(days=1), today + timedelta(days=1)


def test_billing_report_lists_exactly_the_receipts_of_one_registration_number(rmt_receipts):
    w, mine, theirs, _ = rmt_receipts
    first, last = _period()
    rows = billing.billing_receipts(w.clinic.id, first, last, w.therapist.id)
    assert [r.number for r in rows] == [r.number for r in mine]
    assert {r.therapist_registration_number for r in rows} == {w.therapist.registration_number}
    assert [r.void for r in rows] == [False, False, True]

    (total,) = billing.billing_totals(w.clinic.id, first, last, w.therapist.id)
    assert (total.receipts, total.void) == (3, 1)
    assert total.total_cents == mine[0].total_cents + mine[1].total_cents  # void left out

    everyone = billing.billing_totals(w.clinic.id, first, last, None)
    assert {t.registration_number: t.receipts for t in everyone} == {
        w.therapist.registration_number: 3,
        w.therapist2.registration_number: 1,
    }
    assert billing.billing_receipts(w.clinic.id, last + timedelta(days=1), last, None) == []
    assert theirs.number not in [r.number for r in rows]


def test_therapist_sees_only_their_own_report(rmt_receipts, login_as):
    w, mine, theirs, _ = rmt_receipts
    therapist = login_as("therapist")
    home = therapist.get("/").get_data(as_text=True)
    assert "/admin/compliance/billing" in home

    page = therapist.get("/admin/compliance/billing").get_data(as_text=True)
    assert all(f"{r.number:06d}" in page for r in mine)
    assert f"{theirs.number:06d}" not in page
    assert w.therapist2.registration_number not in page
    assert (
        therapist.get(f"/admin/compliance/billing?therapist={w.therapist2.id}").status_code == 403
    )
    csv_403 = therapist.get(f"/admin/compliance/billing.csv?therapist={w.therapist2.id}")
    assert csv_403.status_code == 403
    assert login_as("front_desk").get("/admin/compliance/billing").status_code == 403

    response = therapist.get("/admin/compliance/billing.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [line["receipt_number"] for line in lines] == [f"{r.number:06d}" for r in mine]
    assert {line["registration_number"] for line in lines} == {w.therapist.registration_number}
    assert [line["status"] for line in lines] == ["issued", "issued", "VOID"]
    export = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == Action.BILLING_REPORT_EXPORT)
    )
    assert export.actor_id == w.therapist.id and export.details["receipts"] == 3


def test_owner_sees_every_rmt_and_never_another_clinic(rmt_receipts, login_as):
    w, mine, theirs, _ = rmt_receipts
    owner = login_as("owner")
    page = owner.get("/admin/compliance/billing").get_data(as_text=True)
    assert f"{theirs.number:06d}" in page and w.therapist2.registration_number in page
    assert w.other_therapist.registration_number not in page

    one = owner.get(f"/admin/compliance/billing?therapist={w.therapist2.id}").get_data(as_text=True)
    assert f"{theirs.number:06d}" in one
    assert all(f"{r.number:06d}" not in one for r in mine)
    assert (
        owner.get(f"/admin/compliance/billing?therapist={w.other_therapist.id}").status_code == 404
    )
    dashboard = owner.get("/admin/compliance/").get_data(as_text=True)
    assert "/admin/compliance/billing" in dashboard
