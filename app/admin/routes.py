"""Owner pages: clinic settings, locations, staff and the audit log."""

from __future__ import annotations

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
from app.admin import services
from app.admin.forms import (
    AuditFilterForm,
    ClinicForm,
    LocationForm,
    StaffCreateForm,
    StaffProfileForm,
)
from app.audit import Action
from app.authz import Permission, get_or_404, require
from app.extensions import db
from app.models import Location, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/clinic", methods=["GET", "POST"])
@require(Permission.CLINIC_MANAGE)
def clinic():
    """Edit the clinic's name, contact details, tax number and retention."""
    clinic = current_user.clinic
    form = ClinicForm(obj=clinic)
    if form.validate_on_submit():
        changed = services.update_clinic(clinic, form.data)
        db.session.commit()
        flash("Clinic settings saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("admin.clinic"))
    return render_template("admin/clinic.html", form=form, clinic=clinic)


@bp.get("/locations")
@require(Permission.CLINIC_MANAGE)
def locations():
    """List the clinic's locations."""
    return render_template("admin/locations.html", locations=current_user.clinic.locations)


@bp.route("/locations/new", methods=["GET", "POST"], defaults={"location_id": None})
@bp.route("/locations/<int:location_id>/edit", methods=["GET", "POST"])
@require(Permission.CLINIC_MANAGE)
def location_form(location_id: int | None):
    """Add a location or edit one."""
    location = get_or_404(Location, location_id) if location_id else None
    form = LocationForm(obj=location)
    if form.validate_on_submit():
        services.save_location(current_user.clinic_id, form.data, location)
        db.session.commit()
        flash("Location saved.", "success")
        return redirect(url_for("admin.locations"))
    return render_template("admin/location_form.html", form=form, location=location)


@bp.get("/staff")
@require(Permission.STAFF_MANAGE)
def staff():
    """List staff accounts, active first."""
    return render_template("admin/staff.html", staff=services.staff_list(current_user.clinic_id))


def _signature(form: StaffProfileForm) -> tuple[bytes, str] | None:
    upload = form.signature.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    try:
        return services.clean_signature(upload.read(), current_app.config["SIGNATURE_MAX_BYTES"])
    except services.BadImage as exc:
        form.signature.errors = [*form.signature.errors, str(exc)]
        return None


def _save_staff(form: StaffProfileForm, user: User | None) -> User | None:
    """Run the create or update service; put a clash of emails beside the field."""
    signature = _signature(form)
    if form.signature.errors:
        return None
    try:
        if user is None:
            return services.create_staff(current_user.clinic_id, form.data, signature)
        services.update_staff(user, form.data, signature)
        return user
    except services.EmailTaken:
        form.email.errors = [*form.email.errors, "Another account already uses this email."]
        return None


@bp.route("/staff/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/staff/<int:user_id>/edit", methods=["GET", "POST"])
@require(Permission.STAFF_MANAGE)
def staff_form(user_id: int | None):
    """Create a staff account, or edit a profile and signature."""
    user = get_or_404(User, user_id) if user_id else None
    form = (StaffProfileForm if user else StaffCreateForm)(obj=user)
    if form.validate_on_submit() and (saved := _save_staff(form, user)) is not None:
        db.session.commit()
        flash(f"{saved.full_name} saved.", "success")
        return redirect(url_for("admin.staff"))
    return render_template("admin/staff_form.html", form=form, user=user)


@bp.post("/staff/<int:user_id>/active")
@require(Permission.STAFF_MANAGE)
def staff_active(user_id: int):
    """Deactivate or reactivate an account (never delete it)."""
    user = get_or_404(User, user_id)
    if user.id == current_user.id:
        flash("You cannot deactivate your own account.", "error")
        return redirect(url_for("admin.staff"))
    services.set_active(user, request.form.get("active") == "1")
    db.session.commit()
    flash(f"{user.full_name} is now {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("admin.staff"))


@bp.get("/staff/<int:user_id>/signature.png")
@require(Permission.STAFF_MANAGE)
def signature(user_id: int):
    """The stored signature image of a staff member."""
    user = get_or_404(User, user_id)
    if not user.signature_image:
        abort(404)
    return Response(user.signature_image, mimetype=user.signature_mimetype)


@bp.get("/audit")
@require(Permission.AUDIT_READ)
def audit_log():
    """The clinic's audit log, filtered by user, patient, action and dates."""
    form = AuditFilterForm(request.args)
    form.actor.choices = [("", "Anyone")] + [
        (str(u.id), u.full_name) for u in services.staff_list(current_user.clinic_id)
    ]
    form.action.choices = [("", "Any action")] + [(a.value, a.value) for a in Action]
    form.validate()
    page = services.audit_page(
        current_user.clinic_id,
        actor_id=int(form.actor.data) if (form.actor.data or "").isdigit() else None,
        patient_id=form.patient.data,
        action=form.action.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        before=request.args.get("before", type=int),
    )
    audit.record(Action.AUDIT_VIEW, filters={k: v for k, v in request.args.items() if v})
    chain = audit.chain_state(current_user.clinic_id)
    args = {k: v for k, v in request.args.items() if k != "before"}
    html = render_template("admin/audit.html", form=form, page=page, args=args, chain=chain)
    audit.commit_view()
    return html


@bp.post("/audit/verify")
@require(Permission.AUDIT_READ)
def audit_verify():
    """Walk the clinic's whole audit chain now and record the outcome."""
    report = audit.verify_chain(current_user.clinic_id, actor=current_user)
    db.session.commit()
    if report.ok:
        flash(f"The audit chain is intact: {report.events} events checked.", "success")
    else:
        flash(f"The audit chain is broken: {report.problems[0]}", "error")
    return redirect(url_for("admin.audit_log"))
