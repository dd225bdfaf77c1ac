"""In Chromium: the front desk invites a patient, the patient opens the emailed link,
sets a password, signs in to the portal and downloads a receipt."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from tests import factories as f
from tests.browser.conftest import screenshot, sign_in
from tests.test_mail import Inbox, _free_port

PASSWORD = "my own long portal password"


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False)
    yield inbox
    controller.stop()


def test_invite_set_password_and_download_a_receipt(page, live_server, world, smtp):
    f.make_fee_schedule(world.clinic)
    patient = f.make_patient(
        world.clinic, given_name="Grace", family_name="Hopper", email="grace@example.test",
        date_of_birth=date(1986, 12, 9),
    )  # fmt: skip
    visit = f.make_visit(patient, world.therapist, signed=True, day=date(2026, 4, 2))
    receipt = f.make_receipt(visit)
    db.session.commit()

    sign_in(page, world.desk.email, f.PASSWORD)
    page.goto(f"/patients/{patient.id}")
    page.get_by_role("button", name="Invite to the patient portal").click()
    assert "Portal invitation sent to grace@example.test" in page.locator(".flash").inner_text()
    screenshot(page, "portal-invite-sent")
    page.get_by_role("button", name="Sign out").click()

    [message] = smtp.wait()
    body = message.get_body(("plain",)).get_content()
    [link] = re.findall(rf"{re.escape(live_server)}/portal/invite/\S+", body)
    page.goto(link)
    page.get_by_label("Your date of birth").fill("1986-12-09")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    page.wait_for_url("**/portal/signin")
    assert "Your password is set" in page.locator(".flash").inner_text()

    page.get_by_label("Email").fill("grace@example.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")
    assert page.get_by_role("heading", name="Hello Grace").is_visible()
    screenshot(page, "portal-home")

    with page.expect_download() as download:
        page.get_by_role("link", name=f"Receipt {receipt.number_label} (PDF)").click()
    assert download.value.suggested_filename == f"receipt-{receipt.number_label}.pdf"
    path = Path(download.value.path())
    text = "\n".join(p.extract_text() for p in PdfReader(path).pages)
    assert "Grace Hopper" in text and f"Receipt No. {receipt.number_label}" in text
    assert "Theo Therapist" in text and "PAID IN FULL" in text
    assert page.console_errors == []

    db.session.expire_all()
    account = db.session.scalar(select(User).where(User.patient_id == patient.id))
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.patient_id == patient.id).order_by(AuditEvent.id)
    ).all()
    assert account.email == "grace@example.test"
    assert actions[-3:] == ["portal:invite_accept", "portal:view", "portal:receipt_download"]
