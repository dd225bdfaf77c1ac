"""A therapist charts a whole visit in Chromium, signs it, amends it, and nothing
(form, crafted POST, ORM, SQL) can change the signed note afterwards."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import AuditEvent, ImmutableRecordError, Visit
from tests import factories as f
from tests.browser.conftest import screenshot, sign_in


def _actions(visit_id: int) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == "visit", AuditEvent.subject_id == visit_id)
            .order_by(AuditEvent.id)
        )
    )


def test_chart_sign_amend_and_tamper(page, world):
    f.make_consent(world.patient, world.therapist, given_on=date.today() - timedelta(days=10))
    db.session.commit()
    sign_in(page, world.therapist.email, f.PASSWORD)
    page.goto(f"/patients/{world.patient.id}")
    page.get_by_role("link", name="Start a visit").click()
    page.get_by_label("Start time").fill("14:00")
    page.get_by_role("button", name="Start charting").click()
    page.wait_for_selector("h1:has-text('Visit note')")
    visit_id = int(re.search(r"/visits/(\d+)/edit", page.url).group(1))

    # S, with a positive red flag
    page.get_by_label("Chief complaint").fill(
        "Headache at the base of the skull after long screen days"
    )
    page.get_by_label("Pain before treatment (0–10)").select_option("7")
    for question in page.locator("input[type=radio][value=no][name^=rf_]").all():
        question.check()
    page.locator("input[name=rf_thunderclap][value=yes]").check()

    # a neck protocol is blocked while the red flag has no decision
    page.get_by_label("Find a protocol").fill("device neck")
    page.get_by_label("Find a protocol").press("Enter")
    page.wait_for_selector("text=Protocols matching")
    page.locator("button[value='add:pe-device-use-text-neck']").click()
    assert "Neck and cranial protocols stay blocked" in page.locator(".flash-error").inner_text()

    page.get_by_role("radio", name="Not applicable").check()
    page.get_by_label("Referred to whom, cleared by whom, or why not applicable").fill(
        "Sudden headache was 3 years ago, investigated then; nothing new"
    )
    page.get_by_label("Find a protocol").fill("upper trapezius trigger")
    page.get_by_label("Find a protocol").press("Enter")
    page.wait_for_selector("text=Protocols matching")
    assert "Relative contraindication: Takes anticoagulants" in page.content()
    page.locator("button[value='add:tp-upper-trapezius']").click()
    page.wait_for_selector("h1:has-text('check before you apply it')")
    page.get_by_label("Why it is appropriate to go ahead").fill(
        "INR stable; light pressure only, no ischemic compression"
    )
    page.get_by_role("button", name="Acknowledge and apply").click()
    page.wait_for_selector("ol.applied")
    assert "Upper trapezius" in page.locator("ol.applied").inner_text()

    # body chart: click regions; the marks land in the list under the chart
    chart = page.locator("#body-chart")
    chart.locator("[data-region=neck_posterior][data-side=right]").first.click()
    page.get_by_label("Area treated").check()
    chart.locator("[data-region=shoulder][data-side=right]").first.focus()
    page.keyboard.press("Enter")
    assert page.locator("#marks-0-region").input_value() == "neck_posterior"
    assert page.locator("#marks-1-kind").input_value() == "treated"

    # O, A, P; then wait for the autosave
    page.get_by_label("Posture").fill("Forward head posture; right shoulder elevated")
    page.get_by_label("Palpation").fill(
        "Active trigger point in right upper trapezius referring to the temple"
    )
    page.get_by_label("Assessment / clinical impression").fill(
        "Tension-type headache with upper trapezius trigger points"
    )
    page.get_by_label("Response to treatment", exact=True).fill(
        "Referral reproduced then eased; rotation improved"
    )
    page.get_by_label("Pain after treatment (0–10)").select_option("3")
    page.wait_for_selector("#autosave-status:has-text('Draft saved automatically')", timeout=15000)
    db.session.expire_all()
    saved = db.session.get(Visit, visit_id)
    assert saved.pain_after == 3 and saved.body_marks[0]["region"] == "neck_posterior"
    assert "Heat" in saved.home_care or saved.home_care  # pre-filled from the protocol
    screenshot(page, "visit-charting")

    stale_tab = page.context.new_page()  # a second tab left open on the draft
    stale_tab.goto(f"/visits/{visit_id}/edit")
    page.get_by_role("button", name="Sign note").click()
    page.wait_for_selector("text=Signed by")
    page.get_by_label("Reason for the amendment").fill("Patient phoned the next day")
    page.get_by_label("Amendment", exact=True).fill("Headache gone the next morning; no bruising")
    page.get_by_role("button", name="Add amendment").click()
    page.wait_for_selector("text=Headache gone the next morning")
    screenshot(page, "visit-signed")
    assert page.console_errors == []

    # 1. the form: the stale tab's save is refused; reopening the form shows the read-only note
    stale_tab.get_by_label("Chief complaint").fill("rewritten in a stale tab")
    stale_tab.get_by_role("button", name="Save draft").click()
    stale_tab.wait_for_selector("text=This note is signed and cannot change")
    assert stale_tab.url.endswith(f"/visits/{visit_id}")
    page.goto(f"/visits/{visit_id}/edit")
    assert page.url.endswith(f"/visits/{visit_id}")
    # 2. a crafted POST with a valid CSRF token
    token = page.locator("input[name=csrf_token]").first.input_value()
    response = page.request.post(
        f"/visits/{visit_id}/edit",
        form={"csrf_token": token, "chief_complaint": "rewritten", "visit_date": date.today().isoformat(),
              "start_time": "14:00", "duration_minutes": "60", "action": "save"},
    )  # fmt: skip
    assert "This note is signed and cannot change" in response.text()
    # 3. the ORM
    db.session.expire_all()
    visit = db.session.get(Visit, visit_id)
    visit.chief_complaint = "rewritten through the ORM"
    with pytest.raises(ImmutableRecordError):
        db.session.commit()
    db.session.rollback()
    # 4. SQL
    with pytest.raises(DBAPIError, match="signed"):
        db.session.execute(
            text("UPDATE visits SET chief_complaint = 'sql' WHERE id = :id"), {"id": visit_id}
        )
    db.session.rollback()

    db.session.expire_all()
    assert db.session.get(Visit, visit_id).chief_complaint.startswith(
        "Headache at the base of the skull"
    )
    actions = _actions(visit_id)
    assert actions.count("visit:change_refused") >= 2  # the stale form and the crafted POST
    assert actions.index("visit:sign") < actions.index("visit:change_refused")
    assert "visit:update" not in actions[actions.index("visit:sign") :]
