"""Receipts, treatment summaries, year-end statements, billing settings, export, verify."""

from __future__ import annotations

import tempfile
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from app import audit
from app.audit import Action
from app.authz import Permission, can_issue_receipt, get_or_404, require
from app.extensions import db, limiter
from app.forms import choices
from app.mail import MailError
from app.models import PAYMENT_METHODS, Patient, Receipt, Visit, utcnow
from app.pdf import pdf_response
from app.receipts import documents, services
from app.receipts.export import write_export
from app.receipts.forms import (
    BillingForm,
    EmailForm,
    ExportForm,
    IssueForm,
    MissedFeeForm,
    ReissueForm,
    StatementForm,
    SummaryForm,
    VoidForm,
)
from app.receipts.services import ReceiptRefused, to_cents
from app.receipts.verify import lookup

bp = Blueprint("receipts", __name__)
bp.add_app_template_filter(services.money, "money")
bp.add_app_template_filter(lambda d: f"{d:%B} {d.day}, {d.year}", "long_date")
bp.add_app_template_filter(
    lambda t: t.strftime("%I:%M %p").lstrip("0").replace("AM", "a.m.").replace("PM", "p.m."),
    "clock",
)


def _visit_or_404(visit_id: int) -> Visit:
    visit = db.session.get(Visit, visit_id)
    if visit is None or visit.clinic_id != current_user.clinic_id:
        abort(404)
    return visit


def _receipt_or_404(receipt_id: int) -> Receipt:
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None or receipt.clinic_id != current_user.clinic_id:
        abort(404)
    return receipt


def _methods(visit: Visit, *, unpaid: bool = False) -> list:
    accepted = services.settings_for(visit.clinic_id).payment_methods
    pairs = [(code, label) for code, label in PAYMENT_METHODS.items() if code in accepted]
    if unpaid:
        pairs = [("", "Not paid yet")] + [p for p in pairs if p[0] != "gift_certificate"]
    return choices(pairs)


def _visit_forms(visit: Visit) -> tuple[IssueForm, MissedFeeForm]:
    scheduled = services.scheduled_fee(visit.clinic_id, visit.duration_minutes)
    issue = IssueForm(fee=scheduled / 100 if scheduled is not None else None)
    issue.payment_method.choices = _methods(visit)
    missed = MissedFeeForm()
    missed.payment_method.choices = _methods(visit, unpaid=True)
    return issue, missed


def _render_visit(visit: Visit, issue: IssueForm, missed: MissedFeeForm, status: int = 200):
    return render_template(
        "receipts/visit.html", visit=visit, receipts=services.receipts_for_visit(visit),
        refusal=services.refusal(visit), issue_form=issue, missed_form=missed,
        scheduled=services.scheduled_fee(visit.clinic_id, visit.duration_minutes),
        may_issue=can_issue_receipt(current_user, visit),
        missed_fee=services.missed_fee_for(visit),
    ), status  # fmt: skip


@bp.get("/visits/<int:visit_id>/receipts")
@require(Permission.RECEIPT_READ)
def visit(visit_id: int):
    """A visit's receipts, and the form to issue one (or record a missed-visit fee)."""
    visit = _visit_or_404(visit_id)
    audit.record(Action.RECEIPT_VIEW, visit, patient=visit.patient, page="visit receipts")
    audit.commit_view()
    return _render_visit(visit, *_visit_forms(visit))


@bp.post("/visits/<int:visit_id>/receipts")
@require(Permission.RECEIPT_ISSUE)
def issue(visit_id: int):
    """Issue the original receipt for a signed visit, in the treating RMT's name."""
    visit = _visit_or_404(visit_id)
    if not can_issue_receipt(current_user, visit):
        abort(403)
    form, missed = _visit_forms(visit)
    if not form.validate_on_submit():
        return _render_visit(visit, form, missed, 422)
    try:
        receipt = services.issue_receipt(
            visit, current_user, fee_cents=to_cents(form.fee.data),
            payment_method=form.payment_method.data, reason=form.reason.data or "",
        )  # fmt: skip
        db.session.commit()
    except ReceiptRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("receipts.visit", visit_id=visit_id))
    flash(f"Receipt {receipt.number_label} issued to {receipt.patient_name}.", "success")
    return redirect(url_for("receipts.show", receipt_id=receipt.id))


@bp.post("/visits/<int:visit_id>/missed-fee")
@require(Permission.RECEIPT_ISSUE)
def missed_fee(visit_id: int):
    """Record a fee for a cancelled or missed visit (never a treatment receipt)."""
    visit = _visit_or_404(visit_id)
    issue_form, form = _visit_forms(visit)
    if not form.validate_on_submit():
        return _render_visit(visit, issue_form, form, 422)
    try:
        services.record_missed_fee(
            visit, current_user, fee_cents=to_cents(form.fee.data),
            payment_method=form.payment_method.data or "", note=form.note.data or "",
        )  # fmt: skip
        db.session.commit()
        flash("Fee recorded. It is not a treatment receipt.", "success")
    except ReceiptRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("receipts.visit", visit_id=visit_id))


@bp.get("/receipts/<int:receipt_id>")
@require(Permission.RECEIPT_READ)
def show(receipt_id: int):
    """A receipt as issued, its copies and voiding, and what can be done with it."""
    receipt = _receipt_or_404(receipt_id)
    audit.record(Action.RECEIPT_VIEW, receipt, patient=receipt.patient)
    audit.commit_view()
    return render_template(
        "receipts/show.html", receipt=receipt, reissue_form=ReissueForm(), void_form=VoidForm(),
        email_form=EmailForm(), issued_on=services.local_date(receipt.issued_at),
        local_date=services.local_date,
    )  # fmt: skip


@bp.get("/receipts/<int:receipt_id>/receipt.pdf")
@require(Permission.RECEIPT_READ)
def pdf(receipt_id: int):
    """The original receipt as a PDF (each print is audited)."""
    receipt = _receipt_or_404(receipt_id)
    data = documents.print_receipt(receipt, actor=current_user)
    db.session.commit()
    return pdf_response(data, documents.receipt_filename(receipt))


@bp.post("/receipts/<int:receipt_id>/reissue")
@require(Permission.RECEIPT_REISSUE)
def reissue(receipt_id: int):
    """Reprint a receipt as a DUPLICATE: print it, or email it to the patient."""
    receipt = _receipt_or_404(receipt_id)
    form = ReissueForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        copy = services.reissue(receipt, current_user, form.reason.data or "")
        if request.form.get("send") == "email":
            documents.email_receipt(receipt, copy, actor=current_user)
            db.session.commit()
            flash(f"Duplicate {copy.copy_number} emailed to {receipt.patient.email}.", "success")
            return redirect(url_for("receipts.show", receipt_id=receipt.id))
        db.session.commit()
    except (ReceiptRefused, MailError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("receipts.show", receipt_id=receipt_id))
    return redirect(url_for("receipts.duplicate_pdf", receipt_id=receipt.id, copy=copy.copy_number))


@bp.get("/receipts/<int:receipt_id>/duplicates/<int:copy>.pdf")
@require(Permission.RECEIPT_READ)
def duplicate_pdf(receipt_id: int, copy: int):
    """A reissued copy, marked DUPLICATE with its reissue date."""
    receipt = _receipt_or_404(receipt_id)
    row = next((r for r in receipt.reissues if r.copy_number == copy), None)
    if row is None:
        abort(404)
    data = documents.print_receipt(receipt, row, actor=current_user)
    db.session.commit()
    return pdf_response(data, documents.receipt_filename(receipt, row))


@bp.post("/receipts/<int:receipt_id>/void")
@require(Permission.RECEIPT_VOID)
def void(receipt_id: int):
    """Void a wrong receipt with a reason; it is kept and prints as VOID."""
    receipt = _receipt_or_404(receipt_id)
    form = VoidForm()
    try:
        if not form.validate_on_submit():
            raise ReceiptRefused(" ".join(form.reason.errors) or "Give the reason for voiding.")
        services.void(receipt, current_user, form.reason.data)
        db.session.commit()
        flash(f"Receipt {receipt.number_label} is void. Issue a corrected one.", "success")
    except ReceiptRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("receipts.show", receipt_id=receipt_id))


@bp.post("/receipts/<int:receipt_id>/email")
@require(Permission.RECEIPT_READ)
def email(receipt_id: int):
    """Email the original receipt to the patient, audited."""
    receipt = _receipt_or_404(receipt_id)
    if not EmailForm().validate_on_submit():
        abort(400)
    try:
        documents.email_receipt(receipt, actor=current_user)
        db.session.commit()
        flash(f"Receipt {receipt.number_label} emailed to {receipt.patient.email}.", "success")
    except (ReceiptRefused, MailError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("receipts.show", receipt_id=receipt_id))


@bp.route("/patients/<int:patient_id>/summary", methods=["GET", "POST"])
@require(Permission.SUMMARY_CREATE)
def summary(patient_id: int):
    """A treatment summary of signed visits for a period: download or email it."""
    patient = get_or_404(Patient, patient_id)
    today = services.local_date(utcnow())
    form = SummaryForm(date_from=today - timedelta(days=90), date_to=today)
    if form.validate_on_submit():
        send = request.form.get("send") == "email"
        try:
            record, data = documents.print_summary(
                patient, form.date_from.data, form.date_to.data, actor=current_user, email=send
            )
            db.session.commit()
        except (ReceiptRefused, MailError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template("receipts/summary.html", patient=patient, form=form), 422
        if not send:
            return pdf_response(data, documents.summary_filename(record), inline=False)
        flash(f"Treatment summary emailed to {patient.email}.", "success")
        return redirect(url_for("patients.show", patient_id=patient.id))
    return render_template("receipts/summary.html", patient=patient, form=form)


@bp.route("/patients/<int:patient_id>/statement", methods=["GET", "POST"])
@require(Permission.RECEIPT_READ)
def statement(patient_id: int):
    """The year-end statement of a patient's receipts: download or email it."""
    patient = get_or_404(Patient, patient_id)
    form = StatementForm()
    years = services.receipt_years(patient) or [services.local_date(utcnow()).year]
    form.year.choices = [(y, str(y)) for y in years]
    if form.validate_on_submit():
        send = request.form.get("send") == "email"
        try:
            data = documents.print_statement(
                patient, form.year.data, actor=current_user, email=send
            )
            db.session.commit()
        except (ReceiptRefused, MailError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template("receipts/statement.html", patient=patient, form=form), 422
        if not send:
            return pdf_response(data, f"statement-{form.year.data}.pdf", inline=False)
        flash(f"{form.year.data} statement emailed to {patient.email}.", "success")
        return redirect(url_for("patients.show", patient_id=patient.id))
    return render_template("receipts/statement.html", patient=patient, form=form)


@bp.route("/admin/billing", methods=["GET", "POST"])
@require(Permission.BILLING_MANAGE)
def billing():
    """Fee schedule, tax rate and accepted payment methods."""
    clinic_id = current_user.clinic_id
    settings = services.settings_for(clinic_id)
    rows = [
        {"minutes": i.minutes, "fee": i.fee_cents / 100} for i in services.fee_schedule(clinic_id)
    ]
    saved = {
        "tax_name": settings.tax_name, "tax_rate": settings.tax_rate_bp / 100,
        "payment_methods": settings.payment_methods, "fees": rows + [{}] * 3,
    }  # fmt: skip
    # On POST only what was sent counts: an emptied row must not fall back to the saved price.
    form = BillingForm(**({} if request.method == "POST" else saved))
    if form.validate_on_submit():
        changed = services.update_billing(
            clinic_id, tax_name=form.tax_name.data, tax_rate_bp=to_cents(form.tax_rate.data),
            payment_methods=form.payment_methods.data,
            fees={m: to_cents(fee) for m, fee in form.fee_map().items()},
        )  # fmt: skip
        db.session.commit()
        flash("Billing settings saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("receipts.billing"))
    db.session.commit()  # the settings row, created with defaults on first visit
    return render_template("receipts/billing.html", form=form)


@bp.route("/admin/billing/export", methods=["GET", "POST"])
@require(Permission.BILLING_MANAGE)
def export():
    """Download the receipts issued in a period as a zip of PDFs plus a CSV."""
    today = services.local_date(utcnow())
    form = ExportForm(date_from=today.replace(day=1), date_to=today)
    if not form.validate_on_submit():
        return render_template("receipts/export.html", form=form)
    first, last = form.date_from.data, form.date_to.data
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - closed below
    write_export(current_user.clinic_id, first, last, spool, actor=current_user)
    db.session.commit()
    spool.seek(0)
    name = f"receipts-{first.isoformat()}-to-{last.isoformat()}.zip"
    response = send_file(spool, mimetype="application/zip", as_attachment=True, download_name=name)
    response.call_on_close(spool.close)
    return response


def _verify_limit() -> str:
    return current_app.config["VERIFY_RATE_LIMIT"]


@bp.get("/verify/<code>")
@limiter.limit(_verify_limit)
def verify(code: str):
    """Public: is this receipt or summary genuine, void or a duplicate? (No patient data.)"""
    result = lookup(code)
    db.session.commit()
    response = render_template("receipts/verify.html", result=result, code=code)
    return (
        response,
        200 if result else 404,
        {"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"},
    )
