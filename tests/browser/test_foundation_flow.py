"""A front-desk day in a real browser: sign in, register, fix a mistake, find the patient."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Patient
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD


def test_register_with_a_mistake_then_find_the_patient(page, world):
    sign_in(page, world.desk.email, PASSWORD)
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Register a patient").click()

    page.get_by_label("Legal first name").fill("Marguerite")
    page.get_by_label("Legal last name").fill("Beaulieu")
    page.get_by_label("Preferred name").fill("Maggie")
    page.get_by_label("Date of birth").fill("1971-05-09")
    page.get_by_label("Phone", exact=True).fill("555")  # too short: a mistake
    page.get_by_label("Email").fill("maggie@example.test")
    page.get_by_label("Insurer").fill("Canada Life")
    page.get_by_role("button", name="Register patient").click()

    error = page.locator("#phone-error")
    assert "Enter a phone number with area code" in error.inner_text()
    assert page.get_by_label("Phone", exact=True).get_attribute("aria-describedby") == "phone-error"
    assert page.get_by_label("Legal first name").input_value() == "Marguerite"
    assert page.get_by_label("Date of birth").input_value() == "1971-05-09"
    assert page.get_by_label("Insurer").input_value() == "Canada Life"
    screenshot(page, "patient-form-error")

    page.get_by_label("Phone", exact=True).fill("416-555-0177")
    page.get_by_role("button", name="Register patient").click()
    page.wait_for_selector("h1:has-text('Marguerite (Maggie) Beaulieu')")
    assert "is registered" in page.locator(".flash").inner_text()
    assert "Health history" not in page.content()  # front desk sees no clinical fields

    page.get_by_role("link", name="Patients").click()
    page.get_by_label("Search by name, phone or date of birth").fill("beau marg")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Beaulieu, Marguerite (Maggie)").click()
    page.wait_for_selector("h1:has-text('Beaulieu')")
    screenshot(page, "patient-chart-front-desk")
    assert page.console_errors == []

    patient = db.session.scalar(select(Patient).where(Patient.family_name == "Beaulieu"))
    assert patient.phone_digits == "4165550177" and patient.clinic_id == world.clinic.id


def test_keyboard_only_sign_in(page, world):
    page.goto("/signin")
    # The email field has focus on load (autofocus); wait for it on a busy machine.
    page.wait_for_function("document.activeElement && document.activeElement.type === 'email'")
    page.keyboard.type(world.therapist.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    assert "Good day, Theo" in page.locator("h1").inner_text()
    screenshot(page, "home-therapist")
