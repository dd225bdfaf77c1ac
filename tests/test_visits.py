"""Charting: start, save, protocols with S1/S2 checks, sign (R1/R3), amend (R2)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from html import unescape

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import Amendment, AppliedProtocol, AuditEvent, Consent, ImmutableRecordError, Visit
from app.vocab import RED_FLAGS
from tests import factories as f

TODAY = date.today()


def _audit(action: str, **where) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)))


def _visit(visit_id: int) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit_id)


def note_data(visit: Visit, **overrides) -> dict:
    """A complete, signable note as the form would post it."""
    data = {
        "lock_version": str(visit.lock_version),
        "visit_date": visit.visit_date.isoformat(),
        "start_time": visit.start_time.strftime("%H:%M"),
        "duration_minutes": str(visit.duration_minutes),
        "chief_complaint": "Pain at the base of the skull, worse after desk work",
        "symptoms": ["neck_stiffness", "pain_base_of_skull"],
        "pain_before": "6",
        "posture": "Forward head posture, elevated right shoulder",
        "palpation": "Taut bands in right upper trapezius",
        "trigger_points-0-muscle": "upper_trapezius",
        "trigger_points-0-side": "right",
        "trigger_points-0-status": "active",
        "trigger_points-0-referral": "Temple and behind the eye",
        "marks-0-region": "neck_posterior",
        "marks-0-side": "right",
        "marks-0-kind": "pain",
        "marks-0-intensity": "6",
        "marks-1-region": "shoulder",
        "marks-1-side": "right",
        "marks-1-kind": "treated",
        "marks-1-intensity": "",
        "treatment_notes": "Swedish warm-up of the upper back",
        "clinical_impression": "Tension-type headache with myofascial involvement of upper trapezius",
        "treatment_response": "Less tension, rotation improved",
        "pain_after": "3",
        "home_care": "Heat 15 minutes; gentle stretches twice daily",
        "plan": "Weekly for 3 weeks, then reassess",
    }
    for code in RED_FLAGS:
        data[f"rf_{code}"] = "no"
    for i, applied in enumerate(visit.applied):
        data[f"applied-{i}-applied_id"] = str(applied.id)
        data[f"applied-{i}-side"] = "right"
        data[f"applied-{i}-minutes"] = "15"
        data[f"applied-{i}-pressure"] = "moderate"
        data[f"applied-{i}-response"] = "Referral reproduced, eased"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def consented(world):
    f.make_consent(world.patient, world.therapist, given_on=TODAY - timedelta(days=30))
    db.session.commit()
    return world


def _start(client, world, start="10:00", minutes="60", day=TODAY, **extra):
    return client.post(
        f"/patients/{world.patient.id}/visits/new",
        {
            "visit_date": day.isoformat(),
            "start_time": start,
            "duration_minutes": minutes,
            "location_id": "0",
            **extra,
        },
    )


def _new_visit(client, world, **kw) -> Visit:
    response = _start(client, world, **kw)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    visit_id = int(re.search(r"/visits/(\d+)/edit", response.headers["Location"]).group(1))
    return _visit(visit_id)


def test_start_visit_creates_draft_and_audits(login_as, world):
    c = login_as("therapist")
    visit = _new_visit(c, world)
    assert visit.status == "draft" and visit.therapist_id == world.therapist.id
    assert visit.local_start == datetime.combine(TODAY, time(10)) and visit.duration_minutes == 60
    assert _audit("visit:create", patient_id=world.patient.id)
    page = c.get(f"/visits/{visit.id}/edit").get_data(as_text=True)
    assert "Assessment / clinical impression" in page and "diagnosis" not in page.lower()  # S3
    assert _audit("visit:view", patient_id=world.patient.id)


def test_overlapping_visit_is_refused_with_a_clear_message(login_as, world):
    c = login_as("therapist")
    _new_visit(c, world, start="10:00", minutes="60")
    response = _start(c, world, start="10:30", minutes="30")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You already have a visit from 10:00 to 11:00" in html
    assert (
        db.session.scalar(
            select(Visit).where(Visit.local_start == datetime.combine(TODAY, time(10, 30)))
        )
        is None
    )
    assert _start(c, world, start="11:00", minutes="30").status_code == 302  # back to back is fine
    other = login_as("therapist")  # same therapist, other session: still one timeline
    assert (
        other.post(
            f"/patients/{world.patient.id}/visits/new",
            {
                "visit_date": TODAY.isoformat(),
                "start_time": "10:15",
                "duration_minutes": "30",
                "location_id": "0",
            },
        ).status_code
        == 200
    )


def test_other_therapist_may_overlap_and_only_therapists_chart(login_as, world):
    visit = f.make_visit(world.patient, world.therapist2, start=time(10))
    db.session.commit()
    assert _start(login_as("therapist"), world, start="10:00").status_code == 302
    assert (
        login_as("therapist").get(f"/visits/{visit.id}/edit").status_code == 403
    )  # not their visit
    assert login_as("owner").get(f"/patients/{world.patient.id}/visits/new").status_code == 403
    assert login_as("front_desk").get(f"/visits/{visit.id}").status_code == 403


def test_save_keeps_everything_and_validation_errors_lose_nothing(login_as, consented):
    c = login_as("therapist")
    visit = _new_visit(c, consented)
    bad = note_data(visit, pain_before="11", chief_complaint="Stiff neck after a long drive")
    response = c.post(
        f"/visits/{visit.id}/edit", {**bad, "marks-0-intensity": "14", "action": "save"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Number must be between 0 and 10." in html
    assert "Stiff neck after a long drive" in html  # kept
    assert _visit(visit.id).chief_complaint == ""  # nothing half-saved
    ok = c.post(f"/visits/{visit.id}/edit", {**note_data(visit), "action": "save"})
    assert ok.status_code == 302
    saved = _visit(visit.id)
    assert saved.pain_before == 6 and saved.symptoms == ["neck_stiffness", "pain_base_of_skull"]
    assert saved.trigger_points == [
        {
            "muscle": "upper_trapezius",
            "side": "right",
            "status": "active",
            "referral": "Temple and behind the eye",
        }
    ]
    assert saved.body_marks == [
        {"region": "neck_posterior", "side": "right", "kind": "pain", "intensity": 6},
        {"region": "shoulder", "side": "right", "kind": "treated", "intensity": None},
    ]
    [event] = _audit("visit:update", subject_id=visit.id)
    assert "chief_complaint" in event.details["fields"] and event.details["via"] == "form"
    page = c.get(f"/visits/{visit.id}/edit").get_data(as_text=True)  # the saved note comes back
    assert 'value="Temple and behind the eye"' in page
    assert '<option selected value="upper_trapezius">' in page
    assert '<option selected value="6">6</option>' in page
    assert re.search(r'<input[^>]*checked[^>]*name="rf_thunderclap"[^>]*value="no"', page)


def test_two_editors_the_later_save_is_refused_and_nothing_is_lost(login_as, consented):
    first, second = login_as("therapist"), login_as("therapist")
    visit = _new_visit(first, consented)
    stale = note_data(visit)  # both opened lock_version 1
    assert (
        first.post(
            f"/visits/{visit.id}/edit",
            {**stale, "chief_complaint": "From tab one", "action": "save"},
        ).status_code
        == 302
    )
    response = second.post(
        f"/visits/{visit.id}/edit", {**stale, "chief_complaint": "From tab two", "action": "save"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "saved by Theo Therapist" in html and "From tab two" in html
    assert _visit(visit.id).chief_complaint == "From tab one"
    auto = second.post(f"/visits/{visit.id}/autosave", {**stale, "chief_complaint": "autosave two"})
    assert auto.status_code == 409 and auto.get_json()["ok"] is False


def test_autosave_saves_and_returns_the_new_version(login_as, consented):
    c = login_as("therapist")
    visit = _new_visit(c, consented)
    response = c.post(
        f"/visits/{visit.id}/autosave", note_data(visit, chief_complaint="typed, not yet saved")
    )
    body = response.get_json()
    assert (
        response.status_code == 200
        and body["ok"]
        and body["lock_version"] == visit.lock_version + 1
    )
    assert _visit(visit.id).chief_complaint == "typed, not yet saved"
    [event] = _audit("visit:update", subject_id=visit.id)
    assert event.details["via"] == "autosave"


def _add(c, visit, protocol_id, **data):
    return c.post(
        f"/visits/{visit.id}/edit", {**note_data(visit, **data), "action": f"add:{protocol_id}"}
    )


def test_protocol_search_and_add_snapshots_the_version(app, login_as, consented):
    from app.protocols import get_library

    c = login_as("therapist")
    visit = _new_visit(c, consented)
    search = c.post(
        f"/visits/{visit.id}/edit",
        {**note_data(visit), "protocol_query": "levator", "action": "search"},
    )
    assert "pq=levator" in search.headers["Location"]
    page = c.get(search.headers["Location"]).get_data(as_text=True)
    assert "Levator scapulae" in page and 'value="add:tp-levator-scapulae"' in page
    # world.patient takes anticoagulants: a relative contraindication of trigger point work
    assert "Relative contraindication: Takes anticoagulants" in page
    visit = _visit(visit.id)
    response = _add(c, visit, "pe-device-use-text-neck")
    assert response.status_code == 302
    [applied] = _visit(visit.id).applied
    protocol = get_library().get("pe-device-use-text-neck")
    assert applied.content_version == protocol.content_version and applied.title == protocol.title
    assert protocol.home_care.strip()[:40] in _visit(visit.id).home_care  # home care pre-filled
    assert _audit("applied_protocol:add", patient_id=consented.patient.id)


def test_contraindication_needs_acknowledgement_with_reason(login_as, consented):
    c = login_as("therapist")
    visit = _new_visit(c, consented)
    response = _add(c, visit, "tp-upper-trapezius")
    assert response.headers["Location"].endswith(
        f"/visits/{visit.id}/acknowledge/tp-upper-trapezius"
    )
    assert _visit(visit.id).applied == []
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "Takes anticoagulants or antiplatelets" in page and "relative contraindication" in page
    empty = c.post(response.headers["Location"], {"reason": ""})
    assert "Give the reason for going ahead." in empty.get_data(as_text=True)
    done = c.post(
        response.headers["Location"],
        {"reason": "INR stable; light pressure only, no ischemic compression"},
    )
    assert done.status_code == 302
    [applied] = _visit(visit.id).applied
    assert applied.contraindication_ack["relative"] == ["anticoagulants"]
    assert applied.contraindication_ack["reason"].startswith("INR stable")
    [event] = _audit("contraindication:acknowledge", patient_id=consented.patient.id)
    assert event.details["relative"] == ["anticoagulants"]


def test_red_flag_yes_blocks_neck_protocols_until_a_decision(login_as, consented):
    c = login_as("therapist")
    visit = _new_visit(c, consented)
    response = _add(c, visit, "pe-device-use-text-neck", rf_thunderclap="yes")
    assert response.status_code == 302
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "Neck and cranial protocols stay blocked" in page
    assert _visit(visit.id).applied == []
    visit = _visit(visit.id)
    decided = _add(
        c, visit, "pe-device-use-text-neck", rf_thunderclap="yes", red_flag_decision="cleared",
        red_flag_detail="Seen by Dr. Singh on Monday; imaging clear",
    )  # fmt: skip
    assert decided.status_code == 302
    visit = _visit(visit.id)
    assert [a.protocol_id for a in visit.applied] == ["pe-device-use-text-neck"]
    assert visit.red_flag_decision == "cleared"


def _sign(c, visit, **data):
    return c.post(f"/visits/{visit.id}/edit", {**note_data(visit, **data), "action": "sign"})


def test_sign_lists_what_is_missing_then_locks_the_note(login_as, world):
    c = login_as("therapist")
    visit = _new_visit(c, world)
    response = _sign(c, visit, chief_complaint="", home_care="", pain_after="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for item in (
        "Chief complaint (S)",
        "Pain after treatment (NPRS)",
        "Home care advice",
        "Informed consent to treatment on file (R3)",
    ):
        assert item in html
    assert _visit(visit.id).status == "draft"
    f.make_consent(world.patient, world.therapist, given_on=TODAY)
    db.session.commit()
    visit = _visit(visit.id)
    signed = _sign(c, visit)
    assert signed.status_code == 302 and signed.headers["Location"] == f"/visits/{visit.id}"
    visit = _visit(visit.id)
    assert visit.status == "signed" and visit.signed_by_id == world.therapist.id and visit.signed_at
    assert _audit("visit:sign", subject_id=visit.id)


def test_home_care_none_given_satisfies_r1(login_as, consented):
    c = login_as("therapist")
    visit = _new_visit(c, consented)
    assert _sign(c, visit, home_care="", home_care_none="y").status_code == 302


def test_sensitive_area_protocol_needs_written_consent_for_the_visit(login_as, consented):
    c = login_as("therapist")
    visit = _new_visit(c, consented)
    response = _add(c, visit, "mfr-pectoral-fascia")
    if "/acknowledge/" in response.headers["Location"]:
        c.post(
            response.headers["Location"],
            {"reason": "Light pressure only, no sustained compression"},
        )
    visit = _visit(visit.id)
    assert [a.sensitive_area for a in visit.applied] == [True]
    missing = _sign(c, visit).get_data(as_text=True)
    assert "Written consent for the sensitive areas treated in this visit (R3)" in missing
    visit = _visit(visit.id)
    assert _sign(c, visit, sensitive_consent="y").status_code == 302
    consent = db.session.scalar(select(Consent).where(Consent.visit_id == visit.id))
    assert consent.kind == "sensitive_area" and consent.areas and consent.method == "written"


def test_neck_protocol_needs_a_complete_red_flag_screen_to_sign(login_as, consented):
    c = login_as("therapist")
    visit = _new_visit(c, consented)
    _add(c, visit, "pe-device-use-text-neck")
    visit = _visit(visit.id)
    missing = _sign(c, visit, rf_thunderclap=None, rf_new_after_50=None)
    assert "Answer every question of the red-flag screen (S1)" in missing.get_data(as_text=True)


def _signed_visit(world) -> Visit:
    f.make_consent(world.patient, world.therapist, given_on=TODAY - timedelta(days=1))
    visit = f.make_visit(
        world.patient, world.therapist, signed=True,
        applied=[{"protocol_id": "sw-neck-shoulder-relaxation", "title": "Neck and shoulder relaxation",
                  "category": "swedish_relaxation"}],
    )  # fmt: skip
    db.session.commit()
    return visit


def test_signed_note_refuses_the_form_and_crafted_posts_and_audits_them(login_as, world):
    visit = _signed_visit(world)
    c = login_as("therapist")
    assert c.get(f"/visits/{visit.id}/edit").headers["Location"] == f"/visits/{visit.id}"
    crafted = note_data(visit, chief_complaint="rewritten history")
    for path in (
        f"/visits/{visit.id}/edit",
        f"/visits/{visit.id}/autosave",
        f"/visits/{visit.id}/acknowledge/tp-upper-trapezius",
    ):
        response = c.post(path, {**crafted, "reason": "x" * 20, "action": "save"})
        assert response.status_code in (303, 409), path
    assert _visit(visit.id).chief_complaint == "Neck pain with afternoon headaches"
    assert len(_audit("visit:change_refused", subject_id=visit.id)) == 3


def test_signed_note_refuses_the_orm(world):
    visit = _signed_visit(world)
    visit.chief_complaint = "changed through the ORM"
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    applied = db.session.scalar(select(AppliedProtocol).where(AppliedProtocol.visit_id == visit.id))
    applied.minutes = 90
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(ImmutableRecordError):
        db.session.delete(_visit(visit.id))
        db.session.flush()
    db.session.rollback()


def test_signed_note_refuses_raw_sql(world):
    """Database triggers (PostgreSQL and SQLite) refuse what bypasses the app."""
    from sqlalchemy.exc import DBAPIError

    visit = _signed_visit(world)
    for statement in (
        "UPDATE visits SET chief_complaint = 'sql edit' WHERE id = :id",
        "DELETE FROM visits WHERE id = :id",
        "UPDATE applied_protocols SET minutes = 99 WHERE visit_id = :id",
        "DELETE FROM applied_protocols WHERE visit_id = :id",
    ):
        with pytest.raises(DBAPIError, match=r"signed|cannot"):
            db.session.execute(text(statement), {"id": visit.id})
        db.session.rollback()
    db.session.add(Amendment(visit_id=visit.id, author_id=world.therapist.id, reason="r", text="t"))
    db.session.commit()
    for table in ("amendments", "health_histories", "consents"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(f"UPDATE {table} SET id = id"))
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.rollback()
    with pytest.raises(DBAPIError, match="signed"):
        db.session.execute(
            text(
                "INSERT INTO applied_protocols (visit_id, position, protocol_id, content_version, title, category, summary, home_care, sensitive_area, red_flag_screen, regions, side, pressure, response, contraindication_ack, added_at, added_by_id) VALUES (:id, 9, 'x', 'x', 'x', 'x', '', '', :f, :f, '[]', '', '', '', '{}', CURRENT_TIMESTAMP, :u)"
            ),
            {"id": visit.id, "u": world.therapist.id, "f": False},
        )
    db.session.rollback()
    assert _visit(visit.id).chief_complaint == "Neck pain with afternoon headaches"


def test_amendments_append_and_keep_the_original(login_as, world):
    visit = _signed_visit(world)
    c = login_as("therapist")
    missing_reason = c.post(
        f"/visits/{visit.id}/amendments", {"reason": "", "text": "Pain after was 4, not 3"}
    )
    assert (
        missing_reason.status_code == 422
        and "Pain after was 4, not 3" in missing_reason.get_data(as_text=True)
    )
    assert (
        c.post(
            f"/visits/{visit.id}/amendments", {"reason": "Typo", "text": "Pain after was 4, not 3"}
        ).status_code
        == 302
    )
    assert (
        c.post(
            f"/visits/{visit.id}/amendments",
            {"reason": "Addition", "text": "Patient called: headache gone next day"},
        ).status_code
        == 302
    )
    page = c.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert page.index("Pain after was 4, not 3") < page.index(
        "Patient called: headache gone next day"
    )
    assert "Neck pain with afternoon headaches" in page  # the original stays readable
    assert len(_audit("visit:amend", patient_id=world.patient.id)) == 2
    assert (
        login_as("owner")
        .post(f"/visits/{visit.id}/amendments", {"reason": "x", "text": "y"})
        .status_code
        == 403
    )
    owner_view = login_as("owner").get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Patient called" in owner_view and "Add an amendment" not in owner_view


def test_start_from_last_visit_copies_o_a_and_p(login_as, world):
    _signed_visit(world)
    c = login_as("therapist")
    tomorrow = TODAY + timedelta(days=1)
    visit = _new_visit(c, world, day=tomorrow, copy_last="y")
    assert visit.posture == "Forward head posture"
    assert visit.clinical_impression.startswith("Tension-type headache")
    assert visit.home_care.startswith("Heat 15 minutes")
    assert visit.chief_complaint == "" and visit.pain_before is None  # S is new each time


def test_home_page_shows_today_drafts_and_overdue(login_as, world):
    today_visit = f.make_visit(world.patient, world.therapist, start=time(9))
    old = f.make_visit(world.patient, world.therapist, day=TODAY - timedelta(days=3))
    db.session.commit()
    html = login_as("therapist").get("/").get_data(as_text=True)
    overdue = html[html.index("Overdue notes") : html.index('id="today-h"')]
    assert f"/visits/{old.id}/edit" in overdue and f"/visits/{today_visit.id}/edit" not in overdue
    today = html[html.index('id="today-h"') :]
    assert f"/visits/{today_visit.id}/edit" in today


def test_patient_chart_lists_visits_with_trend_and_latest_body_chart(login_as, world):
    for days_ago, before, after in ((21, 8, 5), (14, 6, 4), (7, 5, 2)):
        f.make_visit(
            world.patient,
            world.therapist,
            day=TODAY - timedelta(days=days_ago),
            signed=True,
            pain_before=before,
            pain_after=after,
        )
    db.session.commit()
    html = login_as("therapist").get(f"/patients/{world.patient.id}").get_data(as_text=True)
    assert "<svg" in html and "pain-trend" in html
    desc = re.search(r'<desc id="pt-desc">([^<]*)</desc>', html).group(1)
    assert "before 8, after 5" in desc and "before 5, after 2" in desc
    table = html[html.index('<th scope="col">Chief complaint') :]
    newest, oldest = ((TODAY - timedelta(days=d)).isoformat() for d in (7, 21))
    assert table.index(newest) < table.index(oldest)
    assert 'id="body-chart-latest"' in html
    desk = login_as("front_desk").get(f"/patients/{world.patient.id}").get_data(as_text=True)
    assert "pain-trend" not in desk and "Neck pain with afternoon" not in desk
    assert (TODAY - timedelta(days=7)).isoformat() in desk  # dates are not clinical


def _trend_desc(html: str) -> str:
    return re.search(r'<desc id="pt-desc">([^<]*)</desc>', html).group(1)


@pytest.mark.parametrize(
    ("signed", "drafts"),
    [(5, 0), (5, 3), (20, 0), (22, 0), (22, 3), (35, 0), (22, 12)],
    ids=[
        "few", "few-with-drafts", "twenty", "more-than-a-page", "drafts-on-top-of-a-page",
        "beyond-the-lookahead", "drafts-push-signed-visits-beyond-it",
    ],
)  # fmt: skip
def test_chart_trend_is_the_latest_twenty_signed_visits(login_as, world, signed, drafts):
    """The chart reads the trend off the rows of its first page (the page and the visits
    read past it) when they hold it, else queries it: either way the latest 20 signed
    visits, oldest first."""
    from app.charts import describe_pain_trend
    from app.visits import services as visit_services

    first = TODAY - timedelta(days=100)
    for i in range(signed):
        day = first + timedelta(days=i)
        f.make_visit(world.patient, world.therapist, day=day, signed=True, pain_before=i % 11)
    for i in range(drafts):  # newer than every signed visit, on the first page
        f.make_visit(world.patient, world.therapist, day=TODAY + timedelta(days=i + 1))
    db.session.commit()
    expected = visit_services.pain_points(world.patient)
    assert len(expected) == min(signed, 20)
    assert expected[0].day == first + timedelta(days=max(0, signed - 20))
    html = login_as("therapist").get(f"/patients/{world.patient.id}").get_data(as_text=True)
    assert unescape(_trend_desc(html)) == describe_pain_trend(expected)


def test_older_visits_page_still_shows_the_latest_body_chart_and_red_flags(login_as, world):
    code = next(iter(RED_FLAGS))
    for i in range(22):
        f.make_visit(
            world.patient, world.therapist, day=TODAY - timedelta(days=30 - i), signed=True,
            red_flags={code: "yes" if i == 21 else "no"}, red_flag_decision="referred",
        )  # fmt: skip
    db.session.commit()
    c = login_as("therapist")
    html = c.get(f"/patients/{world.patient.id}").get_data(as_text=True)
    older = re.search(r'href="([^"]*before=[^"]*)"', html).group(1).replace("&amp;", "&")
    page2 = c.get(older).get_data(as_text=True)
    for page in (html, page2):
        assert 'id="body-chart-latest"' in page and "Red flags at the latest visit" in page
    assert (TODAY - timedelta(days=30)).isoformat() in page2
    assert (TODAY - timedelta(days=30)).isoformat() not in html.split('id="visits-h"')[1]


def test_signed_note_prints_to_pdf_with_amendments_and_is_audited(login_as, world):
    import io

    from pypdf import PdfReader

    visit = _signed_visit(world)
    c = login_as("therapist")
    c.post(
        f"/visits/{visit.id}/amendments",
        {"reason": "Late entry", "text": "Patient reported relief for two days"},
    )
    response = login_as("owner").get(f"/visits/{visit.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = " ".join(text.split())
    for expected in (
        world.clinic.name, "Ada Lovelace", "Neck pain with afternoon headaches", "Tension-type headache",
        "Neck and shoulder relaxation", "Late entry", "Patient reported relief for two days", "Theo Therapist",
    ):  # fmt: skip
        assert expected in text, expected
    assert "Assessment / clinical impression" in text and "diagnosis" not in text.lower()
    [event] = _audit("visit:print", subject_id=visit.id)
    assert event.actor_id == world.owner.id
    draft = f.make_visit(world.patient, world.therapist, day=TODAY + timedelta(days=2))
    db.session.commit()
    assert c.get(f"/visits/{draft.id}/pdf").status_code == 409
    assert login_as("front_desk").get(f"/visits/{visit.id}/pdf").status_code == 403
