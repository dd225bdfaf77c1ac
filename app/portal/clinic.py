"""The clinic's side of the portal: invite a patient, answer record-copy requests (R6)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from app import audit
from app.audit import Action
from app.authz import Permission, can, get_or_404, require
from app.extensions import db
from app.mail import MailError
from app.models import Patient, RecordRequest, utcnow
from app.pdf import pdf_response
from app.portal import record, services
from app.portal.forms import ActionForm
from app.receipts.services import local_date

bp = Blueprint("portal_clinic", __name__)


def portal_link(endpoint: str, **values: str | int) -> str:
    """An absolute link for an email: PUBLIC_BASE_URL when set, else this request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def portal_panel(patient: Patient) -> dict | None:
    """The portal section of the patient's page, or None for staff who cannot invite."""
    if not can(current_user, Permission.PATIENT_INVITE):
        return None
    return {
        "account": services.account_for(patient),
        "invite": services.latest_invite(patient),
        "now": utcnow(),
        "request": services.open_request(patient),
        "form": ActionForm(),
    }


bp.add_app_template_global(portal_panel, "portal_panel")


@bp.post("/patients/<int:patient_id>/portal-invite")
@require(Permission.PATIENT_INVITE)
def invite(patient_id: int):
    """Email the patient a one-time link to set a portal password."""
    patient = get_or_404(Patient, patient_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        row, token = services.invite(patient, current_user)
        services.send_invite(patient, row, portal_link("portal.accept", token=token))
        db.session.commit()
        flash(f"Portal invitation sent to {row.email}.", "success")
    except (services.PortalRefused, MailError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("patients.show", patient_id=patient.id))


@bp.get("/portal-requests")
@require(Permission.RECORD_REQUEST_MANAGE)
def requests():
    """Open requests for a copy of the record, with their 30-day due dates, and past ones."""
    pending, done = services.clinic_requests(current_user.clinic_id)
    audit.record(Action.RECORD_REQUEST_LIST, None, open=[r.id for r in pending])
    audit.commit_view()
    return render_template(
        "portal/requests.html", pending=pending, done=done, form=ActionForm(),
        today=local_date(utcnow()), local_date=local_date,
    )  # fmt: skip


def _request_or_404(request_id: int) -> RecordRequest:
    row = db.session.get(RecordRequest, request_id)
    if row is None or row.clinic_id != current_user.clinic_id:
        abort(404)
    return row


@bp.post("/portal-requests/<int:request_id>/fulfil")
@require(Permission.RECORD_REQUEST_MANAGE)
def fulfil(request_id: int):
    """Produce the full chart as PDF plus JSON, store it and deliver it in the portal."""
    row = _request_or_404(request_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        made = record.fulfil(row, current_user)
    except services.PortalRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("portal_clinic.requests"))
    message = f"The record of {row.patient.full_name} is ready in their portal."
    try:
        if record.notify(made, portal_link("portal.record"), current_user):
            message += f" They were told by email ({row.patient.email})."
    except MailError as exc:
        message += f" The email telling them failed: {exc}"
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("portal_clinic.requests"))


@bp.get("/portal-requests/<int:request_id>/copy.<any(pdf, json):fmt>")
@require(Permission.RECORD_REQUEST_MANAGE)
def copy(request_id: int, fmt: str):
    """The copy as delivered to the patient (the stored bytes), for the clinic's check."""
    row = _request_or_404(request_id)
    if row.record_copy is None:
        abort(404)
    data, mimetype, filename = services.copy_download(row.record_copy, fmt, current_user)
    db.session.commit()
    if fmt == "pdf":
        return pdf_response(data, filename)
    return current_app.response_class(
        data, mimetype=mimetype, headers={"Cache-Control": "no-store"}
    )
