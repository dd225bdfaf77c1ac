"""The owner's compliance dashboard, the RMT billing report and retention (R4, B7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app import audit
from app.audit import Action
from app.authz import Permission, can, get_or_404, require
from app.extensions import db
from app.models import Patient, utcnow
from app.oversight import billing, findings, flags, retention, services
from app.oversight.forms import BillingFilterForm, PurgeForm, SettingsForm
from app.visits.services import local_now

bp = Blueprint("oversight", __name__, url_prefix="/admin/compliance")


def _today() -> date:
    return local_now(current_app.config["TIMEZONE"]).date()


@bp.get("/")
@require(Permission.COMPLIANCE_READ)
def dashboard():
    """Every compliance rule of the clinic on one page, each item linking to its record."""
    clinic = current_user.clinic
    now_local = local_now(current_app.config["TIMEZONE"])
    report = findings.dashboard(clinic.id, now_local=now_local, now=utcnow())
    audit.record(Action.COMPLIANCE_VIEW, clinic, problems=report.problems)
    audit.commit_view()
    form = SettingsForm(obj=report.settings)
    return render_template("oversight/dashboard.html", report=report, form=form, clinic=clinic)


@bp.post("/check")
@require(Permission.COMPLIANCE_READ)
def full_check():
    """Check every rule over the clinic's whole history now (it also runs nightly)."""
    repaired = flags.full_check(current_user.clinic_id)
    audit.record(Action.COMPLIANCE_CHECK, current_user.clinic, repaired=repaired)
    db.session.commit()
    flash(
        "Full check done: every finding was already listed."
        if not repaired
        else f"Full check done: {repaired} findings were out of date and are now corrected.",
        "success",
    )
    return redirect(url_for("oversight.dashboard"))


@bp.post("/settings")
@require(Permission.COMPLIANCE_READ)
def settings():
    """Change the working day and the chart-snooping thresholds."""
    form = SettingsForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("oversight.dashboard"))
    data = {name: form[name].data for name in services.SETTING_FIELDS}
    changed = services.update_settings(current_user.clinic_id, data)
    if changed:
        audit.record(Action.COMPLIANCE_UPDATE, current_user.clinic, changed=changed, **data)
    db.session.commit()
    flash("Thresholds saved." if changed else "Nothing changed.", "success")
    return redirect(url_for("oversight.dashboard"))


@dataclass
class _Report:
    form: BillingFilterForm
    therapist_id: int | None
    first: date
    last: date


def _billing_args() -> _Report:
    """Who and which days the report covers. A therapist sees only their own receipts."""
    form = BillingFilterForm(request.args)
    wanted = request.args.get("therapist", type=int)
    if can(current_user, Permission.COMPLIANCE_READ):  # the owner: any RMT of the clinic
        people = billing.clinic_therapists(current_user.clinic_id)
        if wanted and wanted not in {u.id for u in people}:
            abort(404)
        form.therapist.choices = [("", "All therapists")]
    else:  # an RMT: their own receipts only
        if wanted and wanted != current_user.id:
            abort(403)
        people, wanted = [current_user], current_user.id
        form.therapist.choices = []
    form.therapist.choices += [
        (str(u.id), f"{u.full_name} ({u.registration_number})") for u in people
    ]
    today = _today()
    form.validate()
    first = form.date_from.data or today.replace(day=1)
    last = form.date_to.data if form.date_to.data and form.date_to.data >= first else today
    form.date_from.data, form.date_to.data = first, max(first, last)
    return _Report(form, wanted, first, max(first, last))


@bp.get("/billing")
@require(Permission.RMT_BILLING_READ)
def billing_report():
    """Receipts issued under each RMT's registration number in a period, with totals."""
    args = _billing_args()
    report = billing.billing_report(
        current_user.clinic_id, args.first, args.last, args.therapist_id
    )
    audit.record(
        Action.BILLING_REPORT_VIEW, current_user.clinic, therapist=args.therapist_id,
        date_from=args.first.isoformat(), date_to=args.last.isoformat(),
    )  # fmt: skip
    db.session.commit()
    return render_template("oversight/billing.html", args=args, report=report)


@bp.get("/billing.csv")
@require(Permission.RMT_BILLING_READ)
def billing_csv():
    """The same receipts as a CSV download (audited as an export)."""
    args = _billing_args()
    rows = billing.billing_receipts(
        current_user.clinic_id, args.first, args.last, args.therapist_id
    )
    audit.record(
        Action.BILLING_REPORT_EXPORT, current_user.clinic, therapist=args.therapist_id,
        date_from=args.first.isoformat(), date_to=args.last.isoformat(), receipts=len(rows),
    )  # fmt: skip
    db.session.commit()
    name = f"rmt-receipts-{args.first.isoformat()}-to-{args.last.isoformat()}.csv"
    return Response(
        billing.billing_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/retention")
@require(Permission.COMPLIANCE_READ)
def retention_list():
    """Patients past their retention period, awaiting the owner's review (R4)."""
    clinic = current_user.clinic
    due = retention.retention_due(clinic.id, clinic.retention_years, _today(), limit=500)
    audit.record(Action.RETENTION_VIEW, clinic, due=due.total)
    audit.commit_view()
    return render_template("oversight/retention.html", due=due, clinic=clinic)


@bp.route("/retention/<int:patient_id>/purge", methods=["GET", "POST"])
@require(Permission.RECORDS_PURGE)
def purge(patient_id: int):
    """Confirm, then purge one patient's records after their retention end."""
    patient = get_or_404(Patient, patient_id)
    years = current_user.clinic.retention_years
    form, code = PurgeForm(patient.id), 200
    if form.validate_on_submit():
        try:
            retention.purge_patient(patient, current_user, years, _today())
        except retention.PurgeRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            code = 409
        else:
            db.session.commit()
            flash(f"The records of patient {patient.id} were purged.", "success")
            return redirect(url_for("oversight.retention_list"))
    status = retention.retention_status(patient, years)
    counts = retention.record_counts(patient.id) if status.purged is None else status.purged.counts
    audit.record(Action.RETENTION_VIEW, patient, retention_end=status.retention_end.isoformat())
    audit.commit_view()
    code = 422 if form.errors else code
    return render_template(
        "oversight/purge.html", form=form, status=status, counts=counts, today=_today()
    ), code
