"""The patient portal (/portal): sign-in, invitation links, own documents, record copies.

Only a ``patient`` account linked to a patient gets past ``patient_required``.
Anything that is not the signed-in patient's own answers 404, and the attempt is
audited with the id that was tried.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from app import audit
from app.audit import Action
from app.auth.forms import SigninForm
from app.auth.services import authenticate
from app.extensions import db, limiter
from app.models import Patient, Role
from app.pdf import pdf_response
from app.portal import services
from app.portal.forms import AcceptInviteForm, RecordRequestForm
from app.receipts import documents

bp = Blueprint("portal", __name__, url_prefix="/portal")


def _signin_limit() -> str:
    return current_app.config["SIGNIN_RATE_LIMIT"]


def is_patient(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.role == Role.PATIENT


def patient_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in with a patient account (staff get 403); passes the patient to the view."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_patient(current_user) or current_user.patient_id is None:
            abort(403)
        patient = db.session.get(Patient, current_user.patient_id)
        return view(patient, *args, **kwargs)

    return wrapped


def _not_found(patient: Patient, kind: str, object_id: int) -> NoReturn:
    """Audit a look-up of something not the patient's own, then answer 404."""
    services.deny(patient, current_user, kind, object_id)
    db.session.commit()
    abort(404)


@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(410)
def portal_error(error: Any):
    db.session.rollback()
    return render_template("portal/error.html", code=error.code), error.code


# Signing in ---------------------------------------------------------------------------


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def signin():
    """The patients' sign-in page (staff accounts are refused here)."""
    if current_user.is_authenticated:
        return redirect(url_for("portal.home" if is_patient(current_user) else "main.home"))
    form = SigninForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "", portal=True)
        db.session.commit()
        if user is not None:
            login_user(user, remember=form.remember.data)
            return redirect(url_for("portal.home"))
        form.password.errors.append("That email and password do not match a patient account.")
    return render_template("portal/signin.html", form=form)


@bp.post("/signout")
@patient_required
def signout(patient: Patient):
    """Sign the patient out."""
    audit.record(Action.SIGNOUT, current_user._get_current_object(), patient=patient)
    db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("portal.signin"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def accept(token: str):
    """Public: set a password from an emailed invitation link (works once, expires)."""
    row = services.find_invite(token)
    if problem := services.invite_problem(row):
        services.refuse_invite(row, problem)
        db.session.commit()
        page = render_template("portal/invite_problem.html", problem=problem)
        return page, 404 if problem == "unknown" else 410, {"Referrer-Policy": "no-referrer"}
    form = AcceptInviteForm()
    if form.validate_on_submit():
        user = services.accept(row, form.date_of_birth.data, form.password.data)
        db.session.commit()
        if user is not None:
            logout_user()  # whoever used this browser before
            flash(
                "Your password is set. Sign in with your email address and new password.", "success"
            )
            return redirect(url_for("portal.signin"))
        form.date_of_birth.errors = ["That date of birth does not match our records."]
    status = 422 if form.errors else 200
    page = render_template("portal/accept.html", form=form, email=row.email)
    return page, status, {"Referrer-Policy": "no-referrer"}


# The patient's own records ------------------------------------------------------------------


@bp.get("/")
@patient_required
def home(patient: Patient):
    """Visits, receipts and summaries of the signed-in patient."""
    visits = services.visible_visits(patient)
    audit.record(Action.PORTAL_VIEW, patient, page="home")
    audit.commit_view()
    return render_template(
        "portal/home.html", patient=patient, visits=visits,
        receipts=services.receipts(patient), summaries=services.summaries(patient),
        latest_advice=next((v for v in visits if v.home_care), None),
    )  # fmt: skip


@bp.get("/visits/<int:visit_id>")
@patient_required
def visit(patient: Patient, visit_id: int):
    """One visit: date, therapist and the home-care advice (nothing clinic-internal)."""
    visit = services.own_visit(patient, visit_id) or _not_found(patient, "visit", visit_id)
    audit.record(Action.PORTAL_VISIT_VIEW, visit, patient=patient)
    audit.commit_view()
    return render_template("portal/visit.html", patient=patient, visit=visit)


@bp.get("/receipts/<int:receipt_id>.pdf")
@patient_required
def receipt_pdf(patient: Patient, receipt_id: int):
    """The receipt as issued (marked VOID when it was voided)."""
    receipt = services.own_receipt(patient, receipt_id) or _not_found(
        patient, "receipt", receipt_id
    )
    data = documents.render_receipt(receipt)
    audit.record(
        Action.PORTAL_RECEIPT_DOWNLOAD, receipt, patient=patient, number=receipt.number,
        copy="original",
    )  # fmt: skip
    db.session.commit()
    return pdf_response(data, documents.receipt_filename(receipt), inline=False)


@bp.get("/receipts/<int:receipt_id>/duplicates/<int:copy>.pdf")
@patient_required
def duplicate_pdf(patient: Patient, receipt_id: int, copy: int):
    """A reissued copy of the receipt, marked DUPLICATE."""
    receipt = services.own_receipt(patient, receipt_id) or _not_found(
        patient, "receipt", receipt_id
    )
    row = next((r for r in receipt.reissues if r.copy_number == copy), None)
    if row is None:
        _not_found(patient, "receipt_duplicate", copy)
    data = documents.render_receipt(receipt, row)
    audit.record(
        Action.PORTAL_RECEIPT_DOWNLOAD, receipt, patient=patient, number=receipt.number,
        copy=copy,
    )  # fmt: skip
    db.session.commit()
    return pdf_response(data, documents.receipt_filename(receipt, row), inline=False)


@bp.get("/summaries/<int:summary_id>.pdf")
@patient_required
def summary_pdf(patient: Patient, summary_id: int):
    """A treatment summary the clinic issued, without the clinic's internal fields."""
    summary = services.own_summary(patient, summary_id) or _not_found(
        patient, "summary", summary_id
    )
    visits = services.summary_visits(summary)
    data = documents.render_summary(summary, patient, visits, patient_copy=True)
    audit.record(Action.PORTAL_SUMMARY_DOWNLOAD, summary, patient=patient)
    db.session.commit()
    return pdf_response(data, documents.summary_filename(summary), inline=False)


# Copies of the whole record (R6) ----------------------------------------------------------


@bp.route("/record", methods=["GET", "POST"])
@patient_required
def record(patient: Patient):
    """Ask for a copy of the whole record; download the copies delivered."""
    form = RecordRequestForm()
    if form.validate_on_submit():
        try:
            made = services.request_record(patient, current_user, form.note.data or "")
            db.session.commit()
            due = made.due_on
            flash(
                f"Request received. The clinic answers by {due:%B} {due.day}, {due.year}.",
                "success",
            )
        except services.PortalRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
        return redirect(url_for("portal.record"))
    audit.record(Action.PORTAL_VIEW, patient, page="record")
    audit.commit_view()
    return render_template(
        "portal/record.html", patient=patient, form=form, requests=services.requests_of(patient),
        pending=services.open_request(patient),
    )  # fmt: skip


@bp.get("/record/copies/<int:copy_id>.<any(pdf, json):fmt>")
@patient_required
def copy_download(patient: Patient, copy_id: int, fmt: str):
    """Download a delivered copy of the record, exactly as it was stored."""
    row = services.own_copy(patient, copy_id) or _not_found(patient, "record_copy", copy_id)
    data, mimetype, filename = services.copy_download(row, fmt, current_user)
    db.session.commit()
    if fmt == "pdf":
        return pdf_response(data, filename, inline=False)
    return Response(
        data,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
