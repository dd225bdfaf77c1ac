"""Role x route x clinic matrix, generated from the app's URL map.

Every endpoint must appear here (or in PUBLIC): a new route without an entry
fails the suite, so nobody ships a page without deciding who may open it.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import pytest

from app import create_app
from app.extensions import db
from tests import factories as f
from tests.conftest import Client

ROLES = ("owner", "therapist", "front_desk", "patient")
ALL = frozenset(ROLES)
STAFF = frozenset({"owner", "therapist", "front_desk"})
CLINICAL = frozenset({"owner", "therapist"})
OWNER = frozenset({"owner"})
THERAPIST = frozenset({"therapist"})

PUBLIC = {
    "static",
    "auth.signin",
    "main.health",
    "receipts.verify",
    "portal.signin",
    "portal.accept",
}
PATIENT = frozenset({"patient"})
INVITERS = frozenset({"owner", "front_desk"})


class Rule(NamedTuple):
    method: str
    path: str  # may name {patient}, {location}, {user}, {protocol}
    allowed: frozenset[str]
    scoped: str | None = None  # the kind of object that belongs to a clinic
    data: dict[str, str] | None = None
    ok: int | None = None  # the allowed roles' status when it is not 200 (GET) / 302 (POST)


MATRIX: dict[str, Rule] = {
    "main.home": Rule("GET", "/", STAFF),  # a patient account gets only the portal
    "auth.signout": Rule("POST", "/signout", ALL),
    "auth.password": Rule("GET", "/account/password", STAFF),
    "patients.index": Rule("GET", "/patients/?q=a", STAFF),
    "patients.new": Rule("GET", "/patients/new", STAFF),
    "patients.show": Rule("GET", "/patients/{patient}", STAFF, "patient"),
    "patients.edit": Rule("GET", "/patients/{patient}/edit", STAFF, "patient"),
    "patients.history": Rule("GET", "/patients/{patient}/health-history", CLINICAL, "patient"),
    "patients.history_new": Rule(
        "GET", "/patients/{patient}/health-history/new", CLINICAL, "patient"
    ),
    "patients.consent_new": Rule("GET", "/patients/{patient}/consents/new", CLINICAL, "patient"),
    "admin.clinic": Rule("GET", "/admin/clinic", OWNER),
    "admin.locations": Rule("GET", "/admin/locations", OWNER),
    "admin.location_form": Rule("GET", "/admin/locations/{location}/edit", OWNER, "location"),
    "admin.staff": Rule("GET", "/admin/staff", OWNER),
    "admin.staff_form": Rule("GET", "/admin/staff/{user}/edit", OWNER, "user"),
    "admin.staff_active": Rule(
        "POST", "/admin/staff/{user}/active", OWNER, "user", {"active": "1"}
    ),
    "admin.signature": Rule("GET", "/admin/staff/{user}/signature.png", OWNER, "user"),
    "admin.audit_log": Rule("GET", "/admin/audit", OWNER),
    "admin.audit_verify": Rule("POST", "/admin/audit/verify", OWNER),
    "protocols.index": Rule("GET", "/protocols/?q=neck", CLINICAL),
    "protocols.show": Rule("GET", "/protocols/{protocol}", CLINICAL),
    # Charting: only the treating therapist writes; clinical roles read.
    "visits.new": Rule("GET", "/patients/{patient}/visits/new", THERAPIST, "patient"),
    "visits.edit": Rule("GET", "/visits/{visit}/edit", THERAPIST, "visit"),
    "visits.save": Rule("POST", "/visits/{visit}/edit", THERAPIST, "visit", ok=422),
    "visits.autosave": Rule("POST", "/visits/{visit}/autosave", THERAPIST, "visit", ok=422),
    "visits.acknowledge": Rule(
        "GET", "/visits/{visit}/acknowledge/tp-upper-trapezius", THERAPIST, "visit"
    ),
    "visits.show": Rule("GET", "/visits/{visit}", CLINICAL, "visit"),
    "visits.pdf": Rule(
        "GET", "/visits/{visit}/pdf", CLINICAL, "visit", ok=409
    ),  # a draft: not printable
    "visits.amend": Rule("POST", "/visits/{visit}/amendments", THERAPIST, "visit", ok=422),
    # Receipts (issue 5): {billed_visit} is signed and has receipt {receipt} with one duplicate.
    "receipts.visit": Rule("GET", "/visits/{billed_visit}/receipts", STAFF, "visit"),
    "receipts.issue": Rule(
        "POST",
        "/visits/{billed_visit}/receipts",
        STAFF,
        "visit",
        {"fee": "120", "payment_method": "debit"},
    ),
    "receipts.missed_fee": Rule(
        "POST",
        "/visits/{billed_visit}/missed-fee",
        STAFF,
        "visit",
        {"fee": "40", "payment_method": ""},
    ),
    "receipts.show": Rule("GET", "/receipts/{receipt}", STAFF, "receipt"),
    "receipts.pdf": Rule("GET", "/receipts/{receipt}/receipt.pdf", STAFF, "receipt"),
    "receipts.reissue": Rule("POST", "/receipts/{receipt}/reissue", STAFF, "receipt"),
    "receipts.duplicate_pdf": Rule("GET", "/receipts/{receipt}/duplicates/1.pdf", STAFF, "receipt"),
    "receipts.void": Rule("POST", "/receipts/{receipt}/void", OWNER, "receipt", {"reason": "x"}),
    "receipts.email": Rule("POST", "/receipts/{receipt}/email", STAFF, "receipt"),
    "receipts.summary": Rule("GET", "/patients/{patient}/summary", CLINICAL, "patient"),
    "receipts.statement": Rule("GET", "/patients/{patient}/statement", STAFF, "patient"),
    "receipts.billing": Rule("GET", "/admin/billing", OWNER),
    "receipts.export": Rule("GET", "/admin/billing/export", OWNER),
    # Patient portal (issue 6): the signed-in patient's own documents; staff get 403.
    "portal.signout": Rule("POST", "/portal/signout", PATIENT),
    "portal.home": Rule("GET", "/portal/", PATIENT),
    "portal.visit": Rule("GET", "/portal/visits/{billed_visit}", PATIENT, "visit"),
    "portal.receipt_pdf": Rule("GET", "/portal/receipts/{receipt}.pdf", PATIENT, "receipt"),
    "portal.duplicate_pdf": Rule(
        "GET", "/portal/receipts/{receipt}/duplicates/1.pdf", PATIENT, "receipt"
    ),
    "portal.summary_pdf": Rule("GET", "/portal/summaries/{summary}.pdf", PATIENT, "summary"),
    "portal.record": Rule("GET", "/portal/record", PATIENT),
    "portal.copy_download": Rule(
        "GET", "/portal/record/copies/{record_copy}.json", PATIENT, "record_copy"
    ),
    "portal_clinic.invite": Rule("POST", "/patients/{patient}/portal-invite", INVITERS, "patient"),
    "portal_clinic.requests": Rule("GET", "/portal-requests", OWNER),
    "portal_clinic.fulfil": Rule(
        "POST", "/portal-requests/{open_request}/fulfil", OWNER, "record_request"
    ),
    "portal_clinic.copy": Rule(
        "GET", "/portal-requests/{done_request}/copy.json", OWNER, "record_request"
    ),
    # Oversight (issue 6): the owner's compliance pages; the RMT billing report for
    # clinical roles (a therapist sees only their own receipts, see test_oversight.py).
    "oversight.dashboard": Rule("GET", "/admin/compliance/", OWNER),
    "oversight.full_check": Rule("POST", "/admin/compliance/check", OWNER),
    "oversight.settings": Rule(
        "POST",
        "/admin/compliance/settings",
        OWNER,
        data={"working_day_minutes": "480", "snoop_min_patients": "10", "snoop_window_days": "30"},
    ),
    "oversight.billing_report": Rule("GET", "/admin/compliance/billing", CLINICAL),
    "oversight.billing_csv": Rule("GET", "/admin/compliance/billing.csv", CLINICAL),
    "oversight.retention_list": Rule("GET", "/admin/compliance/retention", OWNER),
    "oversight.purge": Rule("GET", "/admin/compliance/retention/{patient}/purge", OWNER, "patient"),
}


def test_every_route_has_a_matrix_entry(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - PUBLIC - MATRIX.keys()
    stale = MATRIX.keys() - endpoints
    assert not missing, (
        f"routes without an authorization entry in tests/test_matrix.py: {sorted(missing)}"
    )
    assert not stale, f"matrix entries for routes that no longer exist: {sorted(stale)}"


def _objects(world, own: bool) -> dict[str, int | str]:
    return {
        **_receipt_objects(world, own),
        **_portal_objects(world, own),
        "visit": (world.visit if own else world.other_visit).id,
        "patient": (world.patient if own else world.other_patient).id,
        "location": (world.location if own else world.other_location).id,
        "user": (world.therapist2 if own else world.other_therapist).id,
        "protocol": "tp-upper-trapezius",
    }


def _receipt_objects(world, own: bool) -> dict[str, int]:
    """A signed visit with an issued receipt and one duplicate, in each clinic (made once)."""
    if not hasattr(world, "receipts"):
        from app.receipts.services import reissue

        world.receipts = {}
        for key, clinic, patient, therapist in (
            (True, world.clinic, world.patient, world.therapist),
            (False, world.other_clinic, world.other_patient, world.other_therapist),
        ):
            f.make_fee_schedule(clinic)
            visit = f.make_visit(patient, therapist, signed=True, day=date(2026, 1, 5))
            receipt = f.make_receipt(visit)
            reissue(receipt, therapist)
            world.receipts[key] = {"billed_visit": visit.id, "receipt": receipt.id}
        db.session.commit()
    return world.receipts[own]


PATIENT_RECORDS = {"patient", "visit", "receipt"}
# Forms that show no more of the record than the patient's name: nothing is read.
NAME_ONLY = {"patients.consent_new", "visits.new", "receipts.summary", "receipts.statement"}


def _last_patient_event() -> int:
    """The id of the newest audit event that names a patient (0 when none)."""
    from sqlalchemy import func, select

    from app.models import AuditEvent

    with db.engine.connect() as conn:  # a fresh read, outside the test's session
        return conn.scalar(
            select(func.coalesce(func.max(AuditEvent.id), 0)).where(
                AuditEvent.patient_id.is_not(None)
            )
        )


def _portal_objects(world, own: bool) -> dict[str, int]:
    """A treatment summary, an open and a fulfilled record request in each clinic (made once)."""
    if not hasattr(world, "portal"):
        from app.models import RecordCopy, RecordRequest
        from app.receipts.documents import create_summary

        world.portal = {}
        for key, patient, by in (
            (True, world.patient, world.portal_user),
            (False, world.other_patient, world.other_owner),
        ):
            summary, _ = create_summary(patient, date(2026, 1, 1), date(2026, 1, 31), actor=by)
            ids = {"summary": summary.id}
            for name in ("open_request", "done_request"):
                row = RecordRequest(
                    clinic_id=patient.clinic_id, patient_id=patient.id,
                    requested_by_id=by.id, due_on=date(2026, 2, 5),
                )  # fmt: skip
                db.session.add(row)
                db.session.flush()
                ids[name] = row.id
            copy = RecordCopy(
                clinic_id=patient.clinic_id, patient_id=patient.id, request_id=ids["done_request"],
                created_by_id=by.id, pdf_data=b"%PDF-", pdf_sha256="0" * 64, json_data=b"{}",
                json_sha256="0" * 64,
            )  # fmt: skip
            db.session.add(copy)
            db.session.flush()
            world.portal[key] = {**ids, "record_copy": copy.id}
        db.session.commit()
    return world.portal[own]


def _call(client: Client, rule: Rule, path: str):
    if rule.method == "POST":
        return client.post(path, rule.data or {})
    return client.get(path)


@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_role_route_clinic_matrix(endpoint, app, world, login_as):
    rule = MATRIX[endpoint]
    for target in (world.therapist2, world.other_therapist):  # so the image route has content
        target.signature_image, target.signature_mimetype = b"\x89PNG fake", "image/png"
    world.visit = f.make_visit(world.patient, world.therapist)
    world.other_visit = f.make_visit(world.other_patient, world.other_therapist)
    db.session.commit()
    own_path = rule.path.format(**_objects(world, own=True))

    anonymous = Client(app.test_client())
    response = _call(anonymous, rule, own_path)
    assert response.status_code == 302, f"anonymous {endpoint}"
    signin = "/portal/signin" if endpoint.startswith("portal.") else "/signin"
    assert response.headers["Location"].startswith(signin), f"anonymous {endpoint}"

    seen = _last_patient_event()
    for role in ROLES:
        client = login_as(role)
        response = _call(client, rule, own_path)
        allowed = rule.ok or (302 if rule.method == "POST" else 200)
        expected = allowed if role in rule.allowed else 403
        assert response.status_code == expected, f"{role} {rule.method} {own_path}"
        if (
            role in rule.allowed
            and rule.method == "GET"
            and rule.scoped in PATIENT_RECORDS
            and endpoint not in NAME_ONLY
            and response.status_code < 400
        ):
            # R5: opening, printing or changing a patient's record leaves an audit entry.
            assert _last_patient_event() > seen, f"{role} {endpoint} not audited"
            seen = _last_patient_event()
        if rule.scoped and role in rule.allowed:
            other_path = rule.path.format(**_objects(world, own=False))
            assert _call(client, rule, other_path).status_code == 404, (
                f"{role} other clinic {other_path}"
            )
