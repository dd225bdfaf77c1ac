"""Emailing documents to the patient through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import io
import json
import socket
import time
from collections.abc import Iterator
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.mail import MailError, send_mail
from app.models import AuditEvent, Receipt, ReceiptReissue
from app.receipts.services import local_date
from tests import factories as f


def _free_port() -> int:
    # aiosmtpd's Controller(port=0) fails: pick a free port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def wait(self, count: int = 1) -> list[email.message.EmailMessage]:
        for _ in range(100):  # the hook runs on the server's thread
            if len(self.messages) >= count:
                break
            time.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp(app) -> Iterator[Inbox]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_USE_TLS=False,
        MAIL_FROM="Harbour Massage Therapy <front@harbour.test>",
    )
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def receipt(world) -> Receipt:
    world.patient.email = "ada@example.test"
    f.make_fee_schedule(world.clinic)
    visit = f.make_visit(world.patient, world.therapist, signed=True, day=date(2026, 3, 14))
    made = f.make_receipt(visit)
    db.session.commit()
    return made


def _pdf_attachment(message) -> tuple[str, bytes]:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    return part.get_filename(), part.get_content()


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_receipt_arrives_with_the_pdf_attached_and_is_audited(login_as, smtp, receipt):
    response = login_as("front_desk").post(f"/receipts/{receipt.id}/email")
    assert response.status_code == 302
    [message] = smtp.wait()
    assert smtp.envelopes == [("front@harbour.test", ["ada@example.test"])]
    assert message["To"] == "ada@example.test"
    assert message["Subject"] == "Your receipt 000001 from Harbour Massage Therapy"
    assert "Hello Ada" in message.get_body(("plain",)).get_content()
    filename, data = _pdf_attachment(message)
    assert filename == "receipt-000001.pdf" and data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    payload = json.loads(reader.attachments["receipt.json"][0])
    assert payload["receipt_number"] == "000001" and payload["copy"] == "original"
    [event] = _events("receipt:email")
    assert event.patient_id == receipt.patient_id and event.details["to"] == "ada@example.test"


def test_emailed_duplicate_is_marked_duplicate(login_as, smtp, receipt):
    c = login_as("front_desk")
    response = c.post(
        f"/receipts/{receipt.id}/reissue", {"reason": "asked by email", "send": "email"}
    )
    assert response.headers["Location"] == f"/receipts/{receipt.id}"
    [message] = smtp.wait()
    filename, data = _pdf_attachment(message)
    assert filename == "receipt-000001-duplicate-1.pdf"
    payload = json.loads(PdfReader(io.BytesIO(data)).attachments["receipt.json"][0])
    assert payload["copy"] == "duplicate"
    assert [e.details["copy"] for e in _events("receipt:email")] == [1]
    assert len(_events("receipt:reissue")) == 1


def test_summary_and_statement_by_email(login_as, smtp, receipt, world):
    c = login_as("owner")
    response = c.post(
        f"/patients/{world.patient.id}/summary",
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "send": "email"},
    )
    assert response.status_code == 302
    year = str(local_date(receipt.issued_at).year)
    response = c.post(f"/patients/{world.patient.id}/statement", {"year": year, "send": "email"})
    assert response.status_code == 302
    messages = smtp.wait(2)
    assert [_pdf_attachment(m)[0] for m in messages] == [
        "treatment-summary-2026-03-01-to-2026-03-31.pdf",
        f"statement-{year}.pdf",
    ]
    assert len(_events("summary:email")) == 1 and len(_events("statement:email")) == 1
    assert _events("summary:print") == []


def test_no_address_or_no_server_refuses_and_audits_nothing(app, login_as, smtp, receipt, world):
    world.patient.email = ""
    db.session.commit()
    c = login_as("front_desk")
    response = c.post(f"/receipts/{receipt.id}/email")
    assert "has no email address on file" in c.get(response.headers["Location"]).get_data(
        as_text=True
    )
    world.patient.email = "ada@example.test"
    db.session.commit()
    app.config["MAIL_SERVER"] = None
    response = c.post(f"/receipts/{receipt.id}/reissue", {"send": "email"})
    assert "Email is not set up" in c.get(response.headers["Location"]).get_data(as_text=True)
    assert smtp.messages == []
    assert _events("receipt:email") == []
    assert db.session.scalar(select(ReceiptReissue.id)) is None  # rolled back with the failure


def test_unreachable_server_rolls_back_the_audit(app, login_as, receipt):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False)
    c = login_as("front_desk")
    response = c.post(f"/receipts/{receipt.id}/email")
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "could not be reached" in page
    assert _events("receipt:email") == []


def test_send_mail_refuses_without_a_server(app):
    app.config["MAIL_SERVER"] = None
    with pytest.raises(MailError):
        send_mail("a@example.test", "s", "b")
