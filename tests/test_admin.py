"""Owner pages: clinic settings, locations, staff accounts, signatures, audit log."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Clinic, Location, User
from tests.conftest import Client


def _png(width: int = 200, height: int = 60) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


CLINIC = {
    "name": "Harbour Massage Therapy",
    "address": "1 Harbour Street, Toronto, ON M5J 1A1",
    "phone": "416-555-0199",
    "business_number": "987654321 RT0001",
    "jurisdiction": "ON",
    "retention_years": "12",
}


def test_owner_edits_clinic_settings(login_as, world):
    c = login_as("owner")
    assert c.post("/admin/clinic", CLINIC).status_code == 302
    db.session.expire_all()
    clinic = db.session.get(Clinic, world.clinic.id)
    assert clinic.business_number == "987654321 RT0001" and clinic.retention_years == 12
    [event] = _events("clinic:update")
    assert set(event.details["fields"]) == {"business_number", "retention_years"}


def test_retention_below_the_jurisdiction_minimum_is_refused(login_as, world):
    response = login_as("owner").post("/admin/clinic", {**CLINIC, "retention_years": "5"})
    assert "This jurisdiction requires at least 10 years." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Clinic, world.clinic.id).retention_years == 10


def test_locations_add_and_edit(login_as, world):
    c = login_as("owner")
    assert (
        c.post(
            "/admin/locations/new", {"name": "Uptown", "address": "9 Yonge St", "active": "y"}
        ).status_code
        == 302
    )
    location = db.session.scalar(select(Location).where(Location.name == "Uptown"))
    assert location.clinic_id == world.clinic.id and location.active
    c.post(f"/admin/locations/{location.id}/edit", {"name": "Uptown", "address": "9 Yonge St"})
    db.session.refresh(location)
    assert location.active is False
    assert _events("location:create") and _events("location:update")
    assert "Uptown" in c.get("/admin/locations").get_data(as_text=True)
    assert c.get(f"/admin/locations/{world.other_location.id}/edit").status_code == 404


def test_owner_creates_therapist_who_must_change_password(app, login_as, world):
    c = login_as("owner")
    data = {
        "full_name": "Rita Reyes", "email": "Rita@Harbour.test", "role": "therapist",
        "designation": "RMT", "registration_number": "U7777",
        "registering_body": "College of Massage Therapists of Ontario", "password": "temporary-pass-123",
        "signature": (io.BytesIO(_png()), "sig.png"),
    }  # fmt: skip
    response = c.post("/admin/staff/new", data, content_type="multipart/form-data")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "rita@harbour.test"))
    assert user.registration_number == "U7777" and user.must_change_password
    assert user.signature_image.startswith(b"\x89PNG") and user.signature_mimetype == "image/png"
    assert c.get(f"/admin/staff/{user.id}/signature.png").data == user.signature_image
    [event] = _events("user:create")
    assert event.subject_id == user.id and event.details["role"] == "therapist"
    newcomer = Client(app.test_client())
    assert (
        newcomer.signin("rita@harbour.test", "temporary-pass-123").headers["Location"]
        == "/account/password"
    )


def test_therapist_needs_registration_number_and_duplicate_email_is_refused(login_as, world):
    c = login_as("owner")
    response = c.post(
        "/admin/staff/new",
        {
            "full_name": "No Number",
            "email": world.desk.email,
            "role": "therapist",
            "password": "temporary-pass-123",
        },
    )
    html = response.get_data(as_text=True)
    assert "A therapist needs a registration number" in html
    assert (
        "Enter the therapist&#39;s designation" in html
        or "Enter the therapist's designation" in html
    )
    assert 'value="No Number"' in html
    ok_fields = {
        "full_name": "Dup",
        "email": world.desk.email.upper(),
        "role": "front_desk",
        "password": "temporary-pass-123",
    }
    assert "Another account already uses this email." in c.post(
        "/admin/staff/new", ok_fields
    ).get_data(as_text=True)


def test_signature_upload_rejects_non_images_and_oversize(app, login_as, world):
    app.config["SIGNATURE_MAX_BYTES"] = 20 * 1024  # keeps the test upload small
    c = login_as("owner")
    base = {"full_name": world.therapist.full_name, "email": world.therapist.email, "role": "therapist",
            "designation": "RMT", "registration_number": world.therapist.registration_number}  # fmt: skip
    fake = c.post(
        f"/admin/staff/{world.therapist.id}/edit",
        {**base, "signature": (io.BytesIO(b"%PDF-1.4 not an image"), "sig.png")},
        content_type="multipart/form-data",
    )
    assert "That file is not a readable PNG or JPEG image." in fake.get_data(as_text=True)
    wrong_type = c.post(
        f"/admin/staff/{world.therapist.id}/edit",
        {**base, "signature": (io.BytesIO(_png()), "sig.gif")},
        content_type="multipart/form-data",
    )
    assert "Upload a PNG or JPEG image." in wrong_type.get_data(as_text=True)
    noisy = Image.effect_noise((150, 150), 100).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    big = c.post(
        f"/admin/staff/{world.therapist.id}/edit",
        {**base, "signature": (io.BytesIO(buf.getvalue()), "sig.png")},
        content_type="multipart/form-data",
    )
    assert len(buf.getvalue()) > 20 * 1024
    assert "larger than 20 KB" in big.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, world.therapist.id).signature_mimetype == ""


def test_deactivate_and_reactivate_never_delete(login_as, world):
    c = login_as("owner")
    assert c.post(f"/admin/staff/{world.desk.id}/active", {"active": "0"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, world.desk.id).active is False
    c.post(f"/admin/staff/{world.desk.id}/active", {"active": "1"})
    db.session.expire_all()
    assert db.session.get(User, world.desk.id).active is True
    assert _events("user:deactivate") and _events("user:reactivate")
    c.post(f"/admin/staff/{world.owner.id}/active", {"active": "0"})
    db.session.expire_all()
    assert db.session.get(User, world.owner.id).active is True  # cannot lock yourself out
    assert c.post(f"/admin/staff/{world.other_owner.id}/active", {"active": "0"}).status_code == 404


def test_audit_log_filters_and_pages(login_as, world):
    therapist = login_as("therapist")
    for _ in range(3):
        therapist.get(f"/patients/{world.patient.id}")
    owner = login_as("owner")
    html = owner.get(f"/admin/audit?patient={world.patient.id}&action=patient:view").get_data(
        as_text=True
    )
    assert html.count("<code>patient:view</code>") == 3
    assert "Theo Therapist" in html
    by_owner = owner.get(f"/admin/audit?actor={world.owner.id}").get_data(as_text=True)
    assert "<code>patient:view</code>" not in by_owner and "<code>auth:signin</code>" in by_owner
    assert "Otherclinic" not in owner.get("/admin/audit").get_data(as_text=True)
    # keyset pages: 50 a page, "Older events" continues where the page ended
    for _ in range(55):
        therapist.get(f"/patients/{world.patient.id}")
    first = owner.get("/admin/audit?action=patient:view").get_data(as_text=True)
    assert first.count("<code>patient:view</code>") == 50 and "Older events" in first
    import re

    before = re.search(r"before=(\d+)", first).group(1)
    second = owner.get(f"/admin/audit?action=patient:view&before={before}").get_data(as_text=True)
    assert second.count("<code>patient:view</code>") == 8 and "Older events" not in second
    assert _events("audit:view")


def test_audit_log_of_other_clinic_is_not_visible(login_as, world):
    from tests import factories as f

    f.make_patient(world.other_clinic)
    db.session.commit()
    html = (
        login_as("owner")
        .get(f"/admin/audit?patient={world.other_patient.id}")
        .get_data(as_text=True)
    )
    assert "No events match." in html
