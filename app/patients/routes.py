"""Patient pages: search, register, chart, edit, health history, consent."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import audit
from app.audit import Action
from app.authz import Permission, can, get_or_404, require
from app.extensions import db
from app.models import Patient
from app.patients import chart_cache, chart_rows, services
from app.patients.chart_cache import RECORD_SLOT, record_cache, splice
from app.patients.forms import ConsentForm, HealthHistoryForm, PatientForm
from app.visits import services as visit_services

bp = Blueprint("patients", __name__, url_prefix="/patients")
bp.add_app_template_global(chart_rows.visit_rows, "visit_rows")
bp.add_app_template_global(chart_rows.receipt_rows, "receipt_rows")
bp.record_once(lambda state: chart_cache.init_app(state.app))


@bp.get("/")
@require(Permission.PATIENT_READ)
def index():
    """Search patients by name, phone or date of birth."""
    query = request.args.get("q", "").strip()[:100]
    result = services.search_patients(current_user.clinic_id, query)
    if query:
        audit.record(Action.PATIENT_SEARCH, query=query, results=len(result.patients))
    html = render_template("patients/index.html", query=query, result=result)
    audit.commit_view()
    return html


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.PATIENT_WRITE)
def new():
    """Register a new patient."""
    form = PatientForm()
    if form.validate_on_submit():
        patient = services.register_patient(current_user.clinic_id, form.data)
        db.session.commit()
        flash(f"{patient.full_name} is registered.", "success")
        return redirect(url_for("patients.show", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=None)


@bp.get("/<int:patient_id>")
@require(Permission.PATIENT_READ)
def show(patient_id: int):
    """The patient's chart; clinical parts only for clinical roles.

    The record (header, visits, receipts) is read as plain rows (``services.chart_*``),
    not ORM objects, and its rendering is kept per worker until the patient's
    ``chart_stamp`` moves (``app/patients/chart_cache.py``): a repeat view reads only the
    patient's row. Every view is audited. docs/performance.md says what each step saved.
    """
    clinical = can(current_user, Permission.CLINICAL_READ)
    patient = get_or_404(Patient, patient_id)  # its chart_stamp is read here, first
    before = request.args.get("before")
    if before:  # an older page of visits: rendered each time
        record, purged = _chart_record(patient, clinical, before)
    else:
        key = (patient.id, patient.chart_stamp, current_user.role, clinical, request.root_path)
        record, purged = record_cache().get_or_render(
            key, lambda: _chart_record(patient, clinical, None)
        )
    audit.record(Action.PATIENT_VIEW, patient, clinical=clinical)
    page = render_template("patients/show.html", patient=patient, record=RECORD_SLOT, purged=purged)
    audit.commit_view()
    return splice(page, record)


def _chart_record(patient: Patient, clinical: bool, before: str | None) -> tuple[bytes, bool]:
    """The chart's record rendered from the database, as UTF-8, and whether it was purged."""
    header = services.chart_header(patient.id, patient.clinic_id, clinical)
    if header is None:  # read in the same request a moment ago: only a concurrent change
        abort(404)
    visits: dict = {}
    receipts = None
    if not header.purge:
        visits = visit_services.chart_visits(patient, before, clinical)
        if can(current_user, Permission.RECEIPT_READ):
            receipts = services.chart_receipts(
                patient, visits["visit_page"], header.has_missed_fees
            )
    html = render_template(
        "patients/_chart_record.html", patient=patient, history=header.history,
        consent=header.consent, purge=header.purge, clinical=clinical, receipts=receipts,
        **visits,
    )  # fmt: skip
    return html.encode(), header.purge is not None


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@require(Permission.PATIENT_WRITE)
def edit(patient_id: int):
    """Edit a patient's demographics."""
    patient = get_or_404(Patient, patient_id)
    form = PatientForm(obj=patient)
    if form.validate_on_submit():
        changed = services.update_patient(patient, form.data)
        db.session.commit()
        flash("Saved." if changed else "Nothing changed.", "success" if changed else "info")
        return redirect(url_for("patients.show", patient_id=patient.id))
    audit.record(Action.PATIENT_VIEW, patient, page="edit")
    audit.commit_view()
    return render_template("patients/form.html", form=form, patient=patient)


@bp.get("/<int:patient_id>/health-history")
@require(Permission.CLINICAL_READ)
def history(patient_id: int):
    """Every version of the health history, newest first."""
    patient = get_or_404(Patient, patient_id)
    versions = services.history_versions(patient)
    audit.record(Action.HISTORY_VIEW, patient, versions=len(versions))
    audit.commit_view()
    return render_template("patients/history.html", patient=patient, versions=versions)


@bp.route("/<int:patient_id>/health-history/new", methods=["GET", "POST"])
@require(Permission.CLINICAL_WRITE)
def history_new(patient_id: int):
    """Record a new version of the health history, starting from the current one."""
    patient = get_or_404(Patient, patient_id)
    form = HealthHistoryForm(obj=services.current_history(patient))
    if form.validate_on_submit():
        entry = services.add_health_history(patient, current_user, form.data)
        db.session.commit()
        flash(f"Health history version {entry.version} recorded.", "success")
        return redirect(url_for("patients.show", patient_id=patient.id))
    audit.record(Action.HISTORY_VIEW, patient, page="new version")
    audit.commit_view()
    return render_template("patients/history_form.html", form=form, patient=patient)


@bp.route("/<int:patient_id>/consents/new", methods=["GET", "POST"])
@require(Permission.CLINICAL_WRITE)
def consent_new(patient_id: int):
    """Document the patient's informed consent to assessment and treatment."""
    patient = get_or_404(Patient, patient_id)
    form = ConsentForm()
    if form.validate_on_submit():
        services.record_consent(patient, current_user, form.data)
        db.session.commit()
        flash("Consent recorded.", "success")
        return redirect(url_for("patients.show", patient_id=patient.id))
    return render_template("patients/consent_form.html", form=form, patient=patient)
