"""The chart's cached record is never stale.

The rendered record (details, consent, health history, visits, receipts) is kept per
worker under the patient's ``chart_stamp``, which database triggers move in the
transaction of every write to the rows it shows (migration 0010).
These tests write through the app's own services and routes, then look at the chart a
clinician would see next; and they check the stamp itself for each kind of write.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from app.audit import Action
from app.extensions import db
from app.models import AuditEvent, Patient, Receipt, User
from app.models.types import utcnow
from app.patients import chart_cache
from app.patients.chart_cache import record_cache
from app.receipts import services as receipts
from tests import factories as f
from tests.conftest import Client


def stamp(patient_id: int) -> int:
    return db.session.scalar(select(Patient.chart_stamp).where(Patient.id == patient_id))


def chart(client: Any, patient_id: int) -> str:
    response = client.get(f"/patients/{patient_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<!--chart-record-" not in html  # the record is spliced into its slot
    return html


def _untokened(html: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", html)


def statements_of(app: Flask, client: Any, patient_id: int) -> tuple[int, str]:
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        html = chart(client, patient_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(seen), html


def test_every_write_the_sections_show_moves_the_stamp(world: Any) -> None:
    f.make_fee_schedule(world.clinic)
    pid, other = world.patient.id, f.make_patient(world.clinic, given_name="Bystander").id
    db.session.commit()
    moves: list[str] = []

    def check(what: str) -> None:
        db.session.commit()
        now = stamp(pid)
        if now != check.last:  # type: ignore[attr-defined]
            moves.append(what)
        check.last = now  # type: ignore[attr-defined]

    check.last = stamp(pid)  # type: ignore[attr-defined]
    untouched = stamp(other)

    draft = f.make_visit(world.patient, world.therapist, day=date(2026, 3, 2))
    check("a draft is started")
    draft.chief_complaint = "Low back ache"
    check("the draft is edited")
    assert draft.status == "draft"  # loaded, so the record guard sees the draft it was
    draft.pain_before, draft.pain_after, draft.status = 5, 2, "signed"
    check("the note is signed")
    receipt = f.make_receipt(draft)
    check("a receipt is issued")
    receipts.reissue(receipt, world.owner, "lost it")
    check("a copy is reissued")
    receipts.void(receipt, world.owner, "wrong payment method")
    check("the receipt is voided")
    no_show = f.make_visit(
        world.patient, world.therapist, day=date(2026, 3, 9), attendance="no_show"
    )
    check("a no-show is recorded")
    receipts.record_missed_fee(no_show, world.owner, fee_cents=4000, payment_method="debit")
    check("a missed-visit fee is recorded")
    db.session.get(User, world.therapist.id).full_name = "Theo Renamed"
    check("the therapist's name changes")
    db.session.get(User, world.therapist2.id).full_name = "Tess Renamed"  # nothing of hers
    db.session.get(User, world.therapist.id).last_sign_in_at = utcnow()
    check("other users change, and this therapist's sign-in time")
    db.session.get(Patient, pid).phone = "416-555-0199"
    check("the patient's details are edited")
    f.make_consent(db.session.get(Patient, pid), world.owner)
    check("a consent is recorded")
    db.session.get(User, world.owner.id).full_name = "Olivia Renamed"
    check("the name of who recorded the consent changes")
    f.make_history(db.session.get(Patient, pid), world.therapist2, ["migraine"])
    check("a health history version is recorded")
    db.session.get(User, world.therapist2.id).full_name = "Tess Renamed Again"
    check("the name of who recorded the history changes")

    assert moves == [
        "a draft is started", "the draft is edited", "the note is signed",
        "a receipt is issued", "a copy is reissued", "the receipt is voided",
        "a no-show is recorded", "a missed-visit fee is recorded",
        "the therapist's name changes", "the patient's details are edited",
        "a consent is recorded", "the name of who recorded the consent changes",
        "a health history version is recorded", "the name of who recorded the history changes",
    ]  # fmt: skip
    assert stamp(other) == untouched  # another patient's chart keeps its sections


def test_the_next_view_shows_each_change(app: Flask, world: Any, login_as: Any) -> None:
    f.make_fee_schedule(world.clinic)
    pid = world.patient.id
    first = f.make_visit(
        world.patient, world.therapist, day=date(2026, 2, 2), signed=True,
        chief_complaint="Stiff neck after a long drive",
    )  # fmt: skip
    db.session.commit()
    therapist, owner = login_as("therapist"), login_as("owner")
    cache = record_cache(app)

    assert "Stiff neck after a long drive" in chart(therapist, pid)
    assert "Stiff neck after a long drive" in chart(therapist, pid)
    assert (cache.hits, cache.misses) == (1, 1)

    # A note signed elsewhere (another therapist's session): on the next view.
    f.make_visit(
        world.patient, world.therapist2, day=date(2026, 2, 9), signed=True,
        chief_complaint="Right shoulder impingement",
    )  # fmt: skip
    db.session.commit()
    assert "Right shoulder impingement" in chart(therapist, pid)

    # A receipt issued through the app's own form.
    response = therapist.post(
        f"/visits/{first.id}/receipts", {"fee": "120.00", "payment_method": "debit", "reason": ""}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    number = db.session.scalar(select(func.max(Receipt.number)))
    page = chart(therapist, pid)
    assert f">{number:06d}</a></td><td>2026-02-02 10:00</td>" in page
    assert "Void" not in page

    # The owner voids it: the therapist's next view says so.
    receipt_id = db.session.scalar(select(Receipt.id).where(Receipt.number == number))
    assert owner.post(f"/receipts/{receipt_id}/void", {"reason": "Paid by cash"}).status_code == 302
    assert '<span class="badge void">Void</span>' in chart(therapist, pid)

    # A therapist's name changes: the visit rows carry the new one.
    db.session.get(User, world.therapist2.id).full_name = "Tess Married-Name"
    db.session.commit()
    assert "Tess Married-Name" in chart(therapist, pid)

    # The front desk edits the phone number; a new health history version; a consent.
    desk = login_as("front_desk")
    details = {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1980-01-01",
               "phone": "905-555-0142"}  # fmt: skip
    assert desk.post(f"/patients/{pid}/edit", details).status_code == 302
    assert "905-555-0142" in chart(therapist, pid)
    assert "No complete informed consent is on file" in chart(therapist, pid)
    f.make_consent(db.session.get(Patient, pid), world.therapist2, given_on=date(2026, 2, 1))
    db.session.commit()
    assert "Informed consent documented on 2026-02-01" in chart(therapist, pid)
    assert "Version 2," not in chart(therapist, pid)
    f.make_history(db.session.get(Patient, pid), world.therapist, ["migraine"])
    db.session.commit()
    assert "Version 2, recorded" in chart(therapist, pid)
    assert (cache.hits, cache.misses) == (3, 8)  # a view after each change, a few repeats


def test_a_repeat_view_skips_the_record_queries_but_not_the_audit(
    app: Flask, world: Any, login_as: Any
) -> None:
    f.make_fee_schedule(world.clinic)
    for day in (3, 10, 17):
        f.make_receipt(
            f.make_visit(world.patient, world.therapist, day=date(2026, 3, day), signed=True)
        )
    pid = world.patient.id
    db.session.commit()
    client = login_as("therapist")

    cold, first = statements_of(app, client, pid)
    warm, second = statements_of(app, client, pid)
    assert warm == cold - 3  # the header, visits and receipts statements

    app.config["CHART_CACHE_SIZE"] = 0
    chart_cache.init_app(app)  # no cache: the record is read and rendered again
    _, fresh = statements_of(app, client, pid)
    # The kept record is the one rendered (the sign-out form's CSRF token is signed anew
    # each second, so it is left out of the comparison).
    assert _untokened(first) == _untokened(second) == _untokened(fresh)
    assert second.count("<tr>") == 1 + 3 + 1 + 3  # heads and rows of visits and receipts

    views = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == Action.PATIENT_VIEW, AuditEvent.patient_id == pid
        )
    )
    assert views == 3  # every view audited, cached or not


def test_the_sections_follow_the_role_and_the_clinic(app: Flask, world: Any, login_as: Any) -> None:
    f.make_visit(
        world.patient, world.therapist, day=date(2026, 4, 6), start=time(9, 30), signed=True,
        chief_complaint="Plantar fasciitis, left",
    )  # fmt: skip
    pid = world.patient.id
    db.session.commit()

    assert "Plantar fasciitis, left" in chart(login_as("therapist"), pid)
    desk = chart(login_as("front_desk"), pid)
    assert "2026-04-06" in desk and "Plantar fasciitis" not in desk
    assert "Chief complaint" not in desk and "Start a visit" not in desk
    assert "Plantar fasciitis, left" in chart(login_as("therapist"), pid)
    # Cached sections never reach another clinic: its staff get the 404 first.
    elsewhere = Client(app.test_client())
    assert elsewhere.signin(world.other_therapist.email).status_code == 302
    assert elsewhere.get(f"/patients/{pid}").status_code == 404


@pytest.mark.parametrize("size", [0, 1])
def test_older_pages_and_a_small_or_no_cache_still_show_the_records(
    app: Flask, world: Any, login_as: Any, size: int
) -> None:
    app.config["CHART_CACHE_SIZE"] = size
    chart_cache.init_app(app)  # as create_app does with this setting
    for day in range(1, 26):
        f.make_visit(world.patient, world.therapist, day=date(2025, 1, day), signed=True)
    f.make_visit(
        world.patient,
        world.therapist,
        day=date(2024, 12, 1),
        signed=True,
        chief_complaint="The oldest one",
    )
    pid = world.patient.id
    db.session.commit()
    client = login_as("therapist")

    page = chart(client, pid)
    assert "The oldest one" not in page
    link = next(part.split('"')[0] for part in page.split('href="') if "before=" in part)
    assert "The oldest one" in chart_path(client, link.replace("&amp;", "&"))
    assert len(record_cache(app)) == size  # older pages are not kept


def chart_path(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)
