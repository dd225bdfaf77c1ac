"""The patient portal: invitations, own documents only, clinic-internal fields hidden, R6 copies."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import select, text

from app.extensions import db
from app.models import (
    AuditEvent,
    ImmutableRecordError,
    PortalInvite,
    RecordCopy,
    RecordRequest,
    Role,
    User,
    utcnow,
)
from app.portal import services
from app.receipts.documents import create_summary
from app.receipts.services import local_date, reissue, void
from tests import factories as f
from tests.conftest import Client
from tests.test_mail import Inbox, _free_port

# Marker strings in clinic-internal fields: never on a portal page or a patient-facing PDF.
INTERNAL = {
    "assessment": "ZQX-ASSESSMENT-7731",
    "red flag detail": "ZQX-REDFLAG-4410",
    "palpation": "ZQX-PALPATION-2290",
    "treatment notes": "ZQX-TREATNOTES-5120",
    "plan": "ZQX-PLAN-6634",
    "contraindication ack": "ZQX-ACK-8802",
    "amendment": "ZQX-AMENDMENT-3307",
    "health history": "ZQX-HISTORY-9915",
}
HOME_CARE = "Heat 15 minutes; chin tucks 10 x 3 daily"
NEW_PASSWORD = "a long and private sentence"


@pytest.fixture
def smtp(app) -> Iterator[Inbox]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False,
        MAIL_FROM="Harbour Massage Therapy <front@harbour.test>",
    )  # fmt: skip
    try:
        yield inbox
    finally:
        controller.stop()


def _events(action: str) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(db.session.scalars(stmt))


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _receipt_json(data: bytes) -> dict[str, Any]:
    return json.loads(PdfReader(io.BytesIO(data)).attachments["receipt.json"][0])


def _portal(app, user: User) -> Client:
    c = Client(app.test_client())
    response = c.signin(user.email, path="/portal/signin")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    return c


def _documents(world, patient, therapist) -> dict[str, Any]:
    """A patient's signed visit (internal markers everywhere), receipts in every state,
    a treatment summary, plus a draft visit. The clinic's fee schedule must exist."""
    f.make_history(patient, therapist, ["migraine"], notes=INTERNAL["health history"])
    visit = f.make_visit(
        patient, therapist, signed=True, day=date(2026, 3, 14),
        clinical_impression=INTERNAL["assessment"], palpation=INTERNAL["palpation"],
        treatment_notes=INTERNAL["treatment notes"], plan=INTERNAL["plan"],
        red_flags={"thunderclap": "yes"}, red_flag_decision="cleared",
        red_flag_detail=INTERNAL["red flag detail"], home_care=HOME_CARE,
        applied=[{
            "protocol_id": "tp-upper-trapezius", "title": "Upper trapezius trigger points",
            "category": "trigger_point",
            "contraindication_ack": {"absolute": [], "relative": ["anticoagulants"],
                                     "reason": INTERNAL["contraindication ack"]},
        }],
    )  # fmt: skip
    f.make_amendment(visit, therapist, reason="Correction", text=INTERNAL["amendment"])
    receipt = f.make_receipt(visit)
    duplicate = reissue(receipt, therapist, "lost")
    second = f.make_visit(patient, therapist, signed=True, day=date(2026, 3, 21), home_care="Rest")
    wrong = f.make_receipt(second)
    void(wrong, world.owner, "wrong fee")
    summary, _ = create_summary(patient, date(2026, 3, 1), date(2026, 3, 31), actor=therapist)
    draft = f.make_visit(patient, therapist, day=date(2026, 3, 28))
    db.session.commit()
    return {
        "visit": visit, "second": second, "draft": draft, "receipt": receipt,
        "duplicate": duplicate, "void": wrong, "summary": summary,
    }  # fmt: skip


def _assert_no_internal(content: str, where: str) -> None:
    for name, marker in INTERNAL.items():
        assert marker not in content, f"{name} shown in {where}"


# Invitations ---------------------------------------------------------------------------


def _invite_link(smtp: Inbox, count: int = 1) -> str:
    message = smtp.wait(count)[count - 1]
    body = message.get_body(("plain",)).get_content()
    [link] = re.findall(r"http://localhost(/portal/invite/\S+)", body)
    return link


def test_invite_by_email_sets_a_password_once(app, world, login_as, smtp):
    patient = f.make_patient(world.clinic, given_name="Grace", email="grace@example.test")
    db.session.commit()
    desk = login_as("front_desk")
    response = desk.post(f"/patients/{patient.id}/portal-invite")
    assert response.status_code == 302
    panel = desk.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Last invitation sent to grace@example.test" in panel and "waiting, works until" in panel
    assert smtp.envelopes[0][1] == ["grace@example.test"]
    link = _invite_link(smtp)
    token = link.rsplit("/", 1)[1]
    [invite] = db.session.scalars(select(PortalInvite))
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert invite.expires_at - invite.created_at == timedelta(hours=72)
    assert [e.patient_id for e in _events("portal:invite")] == [patient.id]

    visitor = Client(app.test_client())
    page = visitor.get(link)
    assert page.status_code == 200 and "grace@example.test" in page.get_data(as_text=True)
    answer = visitor.post(
        link, {"date_of_birth": "1980-01-01", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/portal/signin"
    account = db.session.scalar(select(User).where(User.patient_id == patient.id))
    assert account.role == Role.PATIENT and account.email == "grace@example.test"
    assert len(_events("portal:invite_accept")) == 1

    again = visitor.post(
        link, {"date_of_birth": "1980-01-01", "password": "another password 123", "confirm": "x"}
    )
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    assert visitor.get(link).status_code == 410
    assert [e.details["reason"] for e in _events("portal:invite_refused")] == ["used", "used"]

    signed_in = visitor.signin("grace@example.test", NEW_PASSWORD, path="/portal/signin")
    assert signed_in.headers["Location"] == "/portal/"
    assert "Hello Grace" in visitor.get("/portal/").get_data(as_text=True)


def test_set_password_form_keeps_entries_and_puts_errors_beside_fields(app, world):
    patient = f.make_patient(world.clinic, email="kept@example.test")
    app.config["MAIL_SERVER"] = "127.0.0.1"  # invite() needs email switched on; nothing is sent
    _row, token = services.invite(patient, world.owner)
    db.session.commit()
    c = Client(app.test_client())
    response = c.post(
        f"/portal/invite/{token}",
        {"date_of_birth": "1980-01-01", "password": NEW_PASSWORD, "confirm": "something else"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="1980-01-01"' in html and f'value="{NEW_PASSWORD}"' in html
    assert re.search(r'id="confirm"[^>]*aria-invalid="true"', html) or re.search(
        r'aria-invalid="true"[^>]*id="confirm"', html
    )
    assert '<p class="error" id="confirm-error">The two entries differ.</p>' in html
    wrong = c.post(
        f"/portal/invite/{token}",
        {"date_of_birth": "1979-12-31", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="date_of_birth-error"' in html
    assert "does not match our records" in html and 'value="1979-12-31"' in html
    assert db.session.scalar(select(User).where(User.patient_id == patient.id)) is None


def test_expired_reinvited_and_unknown_links_are_refused(app, world):
    patient = f.make_patient(world.clinic, email="late@example.test")
    app.config["MAIL_SERVER"] = "127.0.0.1"
    _old, expired = services.invite(patient, world.owner, now=utcnow() - timedelta(hours=73))
    db.session.commit()
    c = Client(app.test_client())
    page = c.get(f"/portal/invite/{expired}")
    assert page.status_code == 410 and "has expired" in page.get_data(as_text=True)

    _first, first = services.invite(patient, world.owner)
    _second, second = services.invite(patient, world.owner)  # the newer link replaces it
    db.session.commit()
    assert c.get(f"/portal/invite/{first}").status_code == 410
    assert c.get(f"/portal/invite/{second}").status_code == 200
    assert c.get("/portal/invite/not-a-real-token").status_code == 404
    reasons = [e.details["reason"] for e in _events("portal:invite_refused")]
    assert reasons == ["expired", "revoked", "unknown"]


def test_five_wrong_birth_dates_end_the_link(app, world):
    patient = f.make_patient(world.clinic, email="guess@example.test")
    app.config.update(MAIL_SERVER="127.0.0.1", SIGNIN_RATE_LIMIT="100 per minute")
    _row, token = services.invite(patient, world.owner)
    db.session.commit()
    c = Client(app.test_client())
    for day in range(1, 6):
        data = {
            "date_of_birth": f"1990-01-0{day}",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        }
        response = c.post(f"/portal/invite/{token}", data)
        assert response.status_code == 422
    assert "date of birth" in response.get_data(as_text=True).lower()

    ended = c.get(f"/portal/invite/{token}")
    assert ended.status_code == 410
    assert "too many wrong entries" in ended.get_data(as_text=True)
    db.session.expire_all()
    row = db.session.get(PortalInvite, _row.id)
    assert row.failed_attempts == 5 and row.revoked_at is not None and row.used_at is None
    accounts = db.session.scalars(select(User).where(User.patient_id == patient.id)).all()
    assert accounts == []  # no account was made from the guessed link


def test_invite_is_refused_without_an_address_or_when_staff_use_it(app, world, login_as, smtp):
    staff_email = world.therapist.email
    clash = f.make_patient(world.clinic, email=staff_email.upper())
    bare = f.make_patient(world.clinic)
    db.session.commit()
    desk = login_as("front_desk")
    for patient, message in ((bare, "has no email address"), (clash, "already belongs")):
        response = desk.post(f"/patients/{patient.id}/portal-invite")
        assert message in desk.get(response.headers["Location"]).get_data(as_text=True)
    assert smtp.messages == [] and _events("portal:invite") == []


# Signing in: two doors -------------------------------------------------------------------


def test_staff_and_patients_each_have_their_own_sign_in(app, world):
    staff = Client(app.test_client())
    response = staff.signin(world.owner.email, path="/portal/signin")
    assert response.status_code == 200 and "do not match a patient account" in response.get_data(
        as_text=True
    )
    patient = Client(app.test_client())
    assert patient.signin(world.portal_user.email).status_code == 200  # staff sign-in refuses
    reasons = [e.details["reason"] for e in _events("auth:signin_failed")]
    assert reasons == ["staff account at portal", "portal account at staff sign-in"]
    portal = _portal(app, world.portal_user)
    assert portal.get("/").status_code == 403
    assert portal.get(f"/patients/{world.patient.id}").status_code == 403
    assert portal.get("/signin").headers["Location"] == "/portal/"


def test_portal_sign_in_is_rate_limited(app, world):
    app.config["SIGNIN_RATE_LIMIT"] = "3 per minute"
    c = Client(app.test_client())
    codes = [
        c.signin(world.portal_user.email, "wrong", path="/portal/signin").status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


# What the patient sees ----------------------------------------------------------------------


def test_patient_sees_own_documents_and_nothing_internal(app, world):
    f.make_fee_schedule(world.clinic)
    docs = _documents(world, world.patient, world.therapist)
    c = _portal(app, world.portal_user)
    home = c.get("/portal/").get_data(as_text=True)
    _assert_no_internal(home, "the portal home page")
    assert "March 14, 2026" in home and "Theo Therapist, RMT" in home
    assert "From your visit on March 21, 2026" in home  # the latest home-care advice
    assert docs["receipt"].number_label in home and "1 DUPLICATE copy" in home and "VOID" in home
    assert f"/portal/visits/{docs['draft'].id}" not in home  # drafts are not shown

    visit_page = c.get(f"/portal/visits/{docs['visit'].id}").get_data(as_text=True)
    _assert_no_internal(visit_page, "the visit page")
    assert HOME_CARE in visit_page and "Theo Therapist" in visit_page
    assert c.get(f"/portal/visits/{docs['draft'].id}").status_code == 404

    receipt = c.get(f"/portal/receipts/{docs['receipt'].id}.pdf")
    assert receipt.headers["Content-Disposition"].startswith("attachment")
    receipt_text = _pdf_text(receipt.data)
    assert "Ada Lovelace" in receipt_text and docs["receipt"].number_label in receipt_text
    assert "PAID IN FULL" in receipt_text and _receipt_json(receipt.data)["copy"] == "original"
    duplicate = c.get(f"/portal/receipts/{docs['receipt'].id}/duplicates/1.pdf").data
    assert "DUPLICATE" in _pdf_text(duplicate) and _receipt_json(duplicate)["copy"] == "duplicate"
    voided = c.get(f"/portal/receipts/{docs['void'].id}.pdf").data
    assert "VOID" in _pdf_text(voided) and _receipt_json(voided)["status"] == "void"

    summary = c.get(f"/portal/summaries/{docs['summary'].id}.pdf").data
    summary_text = _pdf_text(summary)
    assert "Treatment summary" in summary_text and "chin tucks" in summary_text
    for where, content in (("receipt", receipt_text), ("summary", summary_text)):
        _assert_no_internal(content, f"the {where} PDF")
    embedded = json.loads(PdfReader(io.BytesIO(summary)).attachments["summary.json"][0])
    assert all("clinical_impression" not in v for v in embedded["visits"])
    assert INTERNAL["assessment"].encode() not in summary

    assert len(_events("portal:view")) == 1
    assert [e.subject_id for e in _events("portal:visit_view")] == [docs["visit"].id]
    downloads = _events("portal:receipt_download")
    assert [e.details["copy"] for e in downloads] == ["original", 1, "original"]
    assert all(e.actor_id == world.portal_user.id for e in downloads)
    assert [e.subject_id for e in _events("portal:summary_download")] == [docs["summary"].id]


def test_guessed_ids_of_other_patients_are_404_and_audited(app, world):
    f.make_fee_schedule(world.clinic)
    mine = _documents(world, world.patient, world.therapist)
    neighbour = f.make_patient(world.clinic, given_name="Bea", family_name="Nextdoor")
    theirs = _documents(world, neighbour, world.therapist2)
    f.make_fee_schedule(world.other_clinic)
    far = f.make_visit(
        world.other_patient, world.other_therapist, signed=True, day=date(2026, 3, 2)
    )
    far_receipt = f.make_receipt(far)
    reissue(far_receipt, world.other_therapist)
    far_summary, _ = create_summary(
        world.other_patient, date(2026, 3, 1), date(2026, 3, 31), actor=world.other_therapist
    )
    copies = {}
    for key, patient, by in (
        ("neighbour", neighbour, world.owner),
        ("far", world.other_patient, world.other_owner),
    ):
        request = RecordRequest(
            clinic_id=patient.clinic_id, patient_id=patient.id, requested_by_id=by.id,
            due_on=date(2026, 4, 1),
        )  # fmt: skip
        db.session.add(request)
        db.session.flush()
        copy = RecordCopy(
            clinic_id=patient.clinic_id, patient_id=patient.id, request_id=request.id,
            created_by_id=by.id, pdf_data=b"%PDF-1.7 secret", pdf_sha256="0" * 64,
            json_data=b"{}", json_sha256="0" * 64,
        )  # fmt: skip
        db.session.add(copy)
        db.session.flush()
        copies[key] = copy.id
    db.session.commit()

    targets = {
        "visit": [theirs["visit"].id, theirs["second"].id, far.id, 987654],
        "receipt": [theirs["receipt"].id, theirs["void"].id, far_receipt.id, 987654],
        "summary": [theirs["summary"].id, far_summary.id, 987654],
        "record_copy": [copies["neighbour"], copies["far"], 987654],
    }
    urls = {
        "visit": ["/portal/visits/{}"],
        "receipt": ["/portal/receipts/{}.pdf", "/portal/receipts/{}/duplicates/1.pdf"],
        "summary": ["/portal/summaries/{}.pdf"],
        "record_copy": ["/portal/record/copies/{}.pdf", "/portal/record/copies/{}.json"],
    }
    c = _portal(app, world.portal_user)
    tried = []
    for kind, ids in targets.items():
        for object_id in ids:
            for pattern in urls[kind]:
                response = c.get(pattern.format(object_id))
                assert response.status_code == 404, pattern.format(object_id)
                # Visible text only: a random nonce or token may spell anything.
                text_only = re.sub(r"<[^>]*>", " ", response.get_data(as_text=True))
                assert "secret" not in text_only and "Nextdoor" not in text_only
                assert not response.data.startswith(b"%PDF")
                tried.append((kind, object_id))
    # A duplicate number that does not exist on one's own receipt is a 404 too.
    assert c.get(f"/portal/receipts/{mine['receipt'].id}/duplicates/7.pdf").status_code == 404
    tried.append(("receipt_duplicate", 7))

    denied = _events("portal:access_denied")
    assert [(e.details["kind"], e.details["attempted_id"]) for e in denied] == tried
    assert {(e.actor_id, e.patient_id, e.clinic_id) for e in denied} == {
        (world.portal_user.id, world.patient.id, world.clinic.id)
    }
    assert _events("portal:receipt_download") == _events("record_copy:download") == []


# Copies of the whole record (R6) -----------------------------------------------------------


def test_record_request_is_fulfilled_with_the_whole_chart(app, world, login_as, smtp):
    world.patient.email = "ada@example.test"
    f.make_fee_schedule(world.clinic)
    docs = _documents(world, world.patient, world.therapist)
    f.make_consent(world.patient, world.therapist)
    db.session.commit()
    patient = _portal(app, world.portal_user)
    response = patient.post("/portal/record", {"note": "Everything since 2025, please"})
    assert response.status_code == 302
    [request] = db.session.scalars(select(RecordRequest))
    assert request.due_on == local_date(request.requested_at) + timedelta(days=30)
    patient.post("/portal/record", {"note": "again"})
    assert db.session.scalar(select(RecordRequest.id).where(RecordRequest.id != request.id)) is None
    assert "being prepared" in patient.get("/portal/record").get_data(as_text=True)

    owner = login_as("owner")
    listing = owner.get("/portal-requests").get_data(as_text=True)
    assert "Ada Lovelace" in listing and request.due_on.isoformat() in listing
    assert "Everything since 2025, please" in listing
    assert owner.post(f"/portal-requests/{request.id}/fulfil").status_code == 302
    [message] = smtp.wait()
    assert message["To"] == "ada@example.test" and "is ready" in message["Subject"]
    assert owner.post(f"/portal-requests/{request.id}/fulfil").status_code == 302  # refused
    [copy] = db.session.scalars(select(RecordCopy))
    assert (
        "Everything since"
        not in owner.get("/portal-requests").get_data(as_text=True).split("Fulfilled")[0]
    )

    page = patient.get("/portal/record").get_data(as_text=True)
    assert f"/portal/record/copies/{copy.id}.pdf" in page
    pdf = patient.get(f"/portal/record/copies/{copy.id}.pdf").data
    data = patient.get(f"/portal/record/copies/{copy.id}.json").data
    assert pdf == copy.pdf_data and hashlib.sha256(pdf).hexdigest() == copy.pdf_sha256
    assert data == copy.json_data
    chart = _pdf_text(pdf)
    for marker in INTERNAL.values():  # the whole record, clinic-internal fields included
        assert marker in chart, marker
    assert docs["receipt"].number_label in chart and "Consent to assessment" in chart
    assert "Not signed (draft)" in chart
    record = json.loads(data)
    assert [v["id"] for v in record["visits"]] == sorted(
        [docs["visit"].id, docs["second"].id, docs["draft"].id]
    )
    first = record["visits"][0]
    assert first["clinical_impression"] == INTERNAL["assessment"]
    assert first["amendments"][0]["text"] == INTERNAL["amendment"]
    assert (
        first["applied_protocols"][0]["contraindication_ack"]["reason"]
        == INTERNAL["contraindication ack"]
    )
    assert [h["version"] for h in record["health_history_versions"]] == [1, 2]
    assert {r["number"] for r in record["receipts"]} == {
        docs["receipt"].number,
        docs["void"].number,
    }
    embedded = json.loads(PdfReader(io.BytesIO(pdf)).attachments["record.json"][0])
    assert embedded == record

    assert [e.details["request_id"] for e in _events("record_copy:create")] == [request.id]
    assert len(_events("record_copy:email")) == 1
    assert [e.details["format"] for e in _events("record_copy:download")] == ["pdf", "json"]
    assert len(_events("record_request:create")) == 1


def test_record_requests_and_copies_are_append_only(app, world):
    request = f.make_record_request(world.patient, world.portal_user)
    db.session.add(
        RecordCopy(
            clinic_id=world.clinic.id, patient_id=world.patient.id, request_id=request.id,
            created_by_id=world.owner.id, pdf_data=b"%PDF-", pdf_sha256="0" * 64,
            json_data=b"{}", json_sha256="0" * 64,
        )
    )  # fmt: skip
    db.session.commit()
    request.note = "changed"
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    for statement in (
        "UPDATE record_requests SET note = 'x'",
        "DELETE FROM record_requests",
        "UPDATE record_copies SET pdf_sha256 = 'x'",
        "DELETE FROM record_copies",
    ):
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.scalar(select(RecordRequest.note)) == ""
    assert db.session.scalar(select(RecordCopy.pdf_sha256)) == "0" * 64
