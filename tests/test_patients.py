"""Registering, finding, charting and editing patients; health history and consent."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Consent, HealthHistory, ImmutableRecordError, Patient
from tests import factories as f

NEW_PATIENT = {
    "given_name": "Zoë",
    "family_name": "Ashworth",
    "preferred_name": "Zo",
    "date_of_birth": "1988-07-14",
    "phone": "(416) 555-0123",
    "email": "zoe@example.test",
    "address": "5 Elm Street, Toronto",
    "emergency_contact_name": "Sam Ashworth",
    "emergency_contact_phone": "416-555-0124",
    "insurer": "Sun Life",
    "policy_number": "SL-99881",
}


def _audit(action: str, **where) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)))


def test_register_patient_stores_row_and_audits(login_as, world):
    c = login_as("front_desk")
    response = c.post("/patients/new", NEW_PATIENT)
    assert response.status_code == 302
    patient = db.session.scalar(select(Patient).where(Patient.family_name == "Ashworth"))
    assert patient.clinic_id == world.clinic.id
    assert patient.date_of_birth == date(1988, 7, 14)
    assert patient.phone_digits == "4165550123" and patient.given_key == "zoe"
    assert response.headers["Location"] == f"/patients/{patient.id}"
    [event] = _audit("patient:create", patient_id=patient.id)
    assert event.actor_id == world.desk.id and event.clinic_id == world.clinic.id


def test_mistakes_come_back_with_entries_intact_and_errors_beside_fields(login_as):
    c = login_as("therapist")
    bad = {**NEW_PATIENT, "date_of_birth": (date.today() + timedelta(days=3)).isoformat(),
           "phone": "12", "email": "not-an-email", "referral_on_file": "y"}  # fmt: skip
    response = c.post("/patients/new", bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This date cannot be in the future." in html
    assert "Enter a phone number with area code" in html
    assert "Enter a valid email address." in html
    assert "Enter the date of the referral on file." in html
    for value in (
        "Zoë",
        "Ashworth",
        "not-an-email",
        "Sun Life",
        "SL-99881",
        "5 Elm Street, Toronto",
    ):
        assert f'value="{value}"' in html or f"{value}</textarea>" in html
    assert 'aria-invalid="true"' in html
    assert db.session.scalar(select(Patient).where(Patient.family_name == "Ashworth")) is None
    assert _audit("patient:create") == []


def test_edit_patient_audits_changed_fields(login_as, world):
    c = login_as("front_desk")
    data = {
        "given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1980-01-01",
        "phone": "647-555-0000", "referral_on_file": "y", "referral_date": "2026-01-05",
        "referral_physician": "Dr. Babbage",
    }  # fmt: skip
    assert c.post(f"/patients/{world.patient.id}/edit", data).status_code == 302
    db.session.expire_all()
    patient = db.session.get(Patient, world.patient.id)
    assert patient.phone == "647-555-0000" and patient.referral_date == date(2026, 1, 5)
    [event] = _audit("patient:update", patient_id=patient.id)
    assert set(event.details["fields"]) == {
        "phone",
        "referral_on_file",
        "referral_date",
        "referral_physician",
    }
    assert "647" not in str(event.details)  # field names only, no values in the log


@pytest.mark.parametrize(
    ("query", "kind"),
    [("love", "name"), ("LOVELACE", "name"), ("ada love", "name"), ("1980-01-01", "date of birth")],
)
def test_search_finds_patient_in_own_clinic_only(login_as, world, query, kind):
    c = login_as("therapist")
    html = c.get(f"/patients/?q={query}").get_data(as_text=True)
    assert "Lovelace, Ada" in html
    assert f"by {kind}" in html
    assert "Otherclinic" not in html  # same first name and birth date, other clinic
    [event] = _audit("patient:search")
    assert event.details["query"] == query and event.details["results"] >= 1


def test_search_by_phone_and_accents(login_as, world):
    f.make_patient(world.clinic, given_name="Renée", family_name="Côté", phone="+1 (905) 555-7788")
    db.session.commit()
    c = login_as("front_desk")
    assert "Côté, Renée" in c.get("/patients/?q=905-555").get_data(as_text=True)
    assert "Côté, Renée" in c.get("/patients/?q=9055557788").get_data(as_text=True)
    assert "Côté, Renée" in c.get("/patients/?q=cote renee").get_data(as_text=True)
    assert "No patient matches" in c.get("/patients/?q=zzzz").get_data(as_text=True)


def test_search_uses_an_index(app, world, backend):
    """The name search is a range scan on (clinic_id, *_key), never a full table scan."""
    from app.patients.services import search_patients

    if backend == "sqlite":
        from sqlalchemy import text

        from app.patients import services

        stmt = services.select(Patient).where(
            Patient.clinic_id == 1, services._prefix_range(Patient.family_key, "lov")
        )
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(r) for r in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "ix_patients_clinic_family_key" in plan
    assert [p.family_name for p in search_patients(world.clinic.id, "lov").patients] == ["Lovelace"]


def test_chart_shows_clinical_fields_to_therapist_not_front_desk(login_as, world):
    therapist_view = (
        login_as("therapist").get(f"/patients/{world.patient.id}").get_data(as_text=True)
    )
    assert "Health history" in therapist_view
    assert (
        "Takes anticoagulants or antiplatelets" in therapist_view and "Warfarin" in therapist_view
    )
    desk_view = login_as("front_desk").get(f"/patients/{world.patient.id}").get_data(as_text=True)
    assert "Ada Lovelace" in desk_view
    assert "Health history" not in desk_view and "Warfarin" not in desk_view
    assert "anticoagulants" not in desk_view.lower()
    assert (
        login_as("front_desk").get(f"/patients/{world.patient.id}/health-history").status_code
        == 403
    )
    views = _audit("patient:view", patient_id=world.patient.id)
    assert [e.details["clinical"] for e in views] == [True, False]


def test_other_clinics_patient_is_404_for_every_patient_page(login_as, world):
    c = login_as("owner")
    pid = world.other_patient.id
    for url in (f"/patients/{pid}", f"/patients/{pid}/edit", f"/patients/{pid}/health-history",
                f"/patients/{pid}/health-history/new", f"/patients/{pid}/consents/new"):  # fmt: skip
        assert c.get(url).status_code == 404, url
    assert c.post(f"/patients/{pid}/edit", {"given_name": "X"}).status_code == 404
    assert _audit("patient:view", patient_id=pid) == []


def test_health_history_update_is_a_new_version(login_as, world):
    c = login_as("therapist")
    form = c.get(f"/patients/{world.patient.id}/health-history/new").get_data(as_text=True)
    assert (
        '<input checked id="conditions-0" name="conditions" type="checkbox" value="anticoagulants">'
        in form
    )  # starts from the current version
    response = c.post(
        f"/patients/{world.patient.id}/health-history/new",
        {
            "conditions": ["anticoagulants", "recent_head_trauma"],
            "medications": "Apixaban",
            "notes": "Fell on ice",
        },
    )
    assert response.status_code == 302
    versions = list(
        db.session.scalars(
            select(HealthHistory)
            .where(HealthHistory.patient_id == world.patient.id)
            .order_by(HealthHistory.version)
        )
    )
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].medications == "Warfarin"  # the first version is untouched
    assert versions[1].conditions == ["anticoagulants", "recent_head_trauma"]
    assert versions[1].recorded_by_id == world.therapist.id
    [event] = _audit("health_history:create", patient_id=world.patient.id)
    assert event.details["version"] == 2
    page = c.get(f"/patients/{world.patient.id}/health-history").get_data(as_text=True)
    assert (
        "Version 2" in page and "Version 1" in page and "Warfarin" in page and "Fell on ice" in page
    )
    assert _audit("health_history:view", patient_id=world.patient.id)


def test_unknown_condition_code_is_refused(login_as, world):
    c = login_as("therapist")
    response = c.post(
        f"/patients/{world.patient.id}/health-history/new", {"conditions": ["made_up"]}
    )
    assert response.status_code == 200 and "not a valid choice" in response.get_data(as_text=True)


def test_health_history_and_consent_rows_cannot_be_changed_or_deleted(world):
    entry = db.session.scalar(
        select(HealthHistory).where(HealthHistory.patient_id == world.patient.id)
    )
    entry.medications = "rewritten"
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    consent = f.make_consent(world.patient, world.therapist)
    db.session.commit()
    db.session.delete(consent)
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()


def test_consent_requires_all_six_elements(login_as, world):
    c = login_as("therapist")
    partial = c.post(
        f"/patients/{world.patient.id}/consents/new",
        {
            "given_on": date.today().isoformat(),
            "method": "verbal",
            "elements": ["nature", "risks"],
            "notes": "Asked about bruising",
        },
    )
    html = partial.get_data(as_text=True)
    assert "Informed consent must cover every element" in html and "Reasonable alternatives" in html
    assert "Asked about bruising" in html  # kept
    assert db.session.scalar(select(Consent).where(Consent.patient_id == world.patient.id)) is None
    full = c.post(
        f"/patients/{world.patient.id}/consents/new",
        {"given_on": date.today().isoformat(), "method": "written",
         "elements": ["nature", "benefits", "risks", "alternatives", "no_treatment", "right_to_stop"]},
    )  # fmt: skip
    assert full.status_code == 302
    consent = db.session.scalar(select(Consent).where(Consent.patient_id == world.patient.id))
    assert consent.complete and consent.recorded_by_id == world.therapist.id
    assert _audit("consent:create", patient_id=world.patient.id)
    chart = c.get(f"/patients/{world.patient.id}").get_data(as_text=True)
    assert "Informed consent documented on" in chart


def test_front_desk_cannot_record_clinical_data(login_as, world):
    c = login_as("front_desk")
    assert (
        c.post(f"/patients/{world.patient.id}/health-history/new", {"conditions": []}).status_code
        == 403
    )
    assert c.post(f"/patients/{world.patient.id}/consents/new", {}).status_code == 403
