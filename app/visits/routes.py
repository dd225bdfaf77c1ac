"""Visit pages: start, chart (save, autosave, protocols, sign), view, amend."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app import audit
from app.audit import Action
from app.authz import Permission, can_chart, get_or_404, require
from app.extensions import db
from app.forms import choices
from app.models import Patient, Visit, utcnow
from app.pdf import pdf_response, render_pdf
from app.protocols import get_library
from app.protocols.contraindications import check
from app.visits import services
from app.visits.bodychart import render_body_chart
from app.visits.forms import (
    BLANK_MARK_ROWS,
    AcknowledgeForm,
    AmendmentForm,
    VisitForm,
    VisitStartForm,
)

bp = Blueprint("visits", __name__)
bp.add_app_template_global(render_body_chart, "body_chart")


def get_visit_or_404(visit_id: int) -> Visit:
    """A visit of the signed-in user's clinic, or 404."""
    visit = db.session.get(Visit, visit_id)
    if visit is None or visit.clinic_id != current_user.clinic_id:
        abort(404)
    return visit


def _chartable(visit_id: int) -> Visit:
    visit = get_visit_or_404(visit_id)
    if not can_chart(current_user, visit):
        abort(403)
    return visit


@bp.route("/patients/<int:patient_id>/visits/new", methods=["GET", "POST"])
@require(Permission.NOTE_WRITE)
def new(patient_id: int):
    """Start a visit: date, start time, duration and location."""
    patient = get_or_404(Patient, patient_id)
    form = VisitStartForm()
    locations = [loc for loc in current_user.clinic.locations if loc.active]
    form.location_id.choices = choices(
        [("0", "—")] + [(str(loc.id), loc.name) for loc in locations]
    )
    if form.validate_on_submit() and form.location_id.data in {0, *(loc.id for loc in locations)}:
        try:
            visit = services.start_visit(patient, current_user, form.data)
        except services.Overlap as exc:
            form.start_time.errors = [str(exc)]
        except services.VisitError as exc:  # e.g. the patient's records were purged (R4)
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            return redirect(url_for("visits.edit", visit_id=visit.id))
    has_previous = services.last_signed_visit(patient) is not None
    return render_template("visits/new.html", form=form, patient=patient, has_previous=has_previous)


def _render_edit(
    visit: Visit, form: VisitForm, status: int = 200, missing: list[str] | None = None
):
    while sum(1 for entry in form.marks if not entry.region.data) < BLANK_MARK_ROWS:
        form.marks.append_entry()
    if not any(not entry.muscle.data for entry in form.trigger_points):
        form.trigger_points.append_entry()
    query = request.args.get("pq", "").strip()[:100]
    conditions = services.patient_conditions(visit.patient)
    found = get_library().index.search(query).protocols[:8] if query else []
    results = [(p, check(conditions, p)) for p in found]
    html = render_template(
        "visits/edit.html", visit=visit, form=form, missing=missing or [], query=query,
        results=results, conditions=conditions, applied={str(a.id): a for a in visit.applied},
        sensitive_areas=services.sensitive_areas(visit),
    )  # fmt: skip
    return html, status


@bp.get("/visits/<int:visit_id>/edit")
@require(Permission.NOTE_WRITE)
def edit(visit_id: int):
    """The SOAP note of a draft visit."""
    visit = _chartable(visit_id)
    if visit.is_signed:
        return redirect(url_for("visits.show", visit_id=visit.id))
    services.load_visit_for_page(visit)
    audit.record(Action.VISIT_VIEW, visit, patient=visit.patient, mode="edit")
    form = VisitForm(formdata=None, data=services.form_initial(visit))
    page = _render_edit(visit, form)
    audit.commit_view()
    return page


@bp.post("/visits/<int:visit_id>/edit")
@require(Permission.NOTE_WRITE)
def save(visit_id: int):
    """Save the draft, then do what the pressed button asked (search, add, remove, sign)."""
    visit = _chartable(visit_id)
    if visit.is_signed:
        return _refuse_signed(visit)
    form = VisitForm()
    if not form.validate():
        return _render_edit(visit, form, 422)
    try:
        services.save_draft(visit, current_user, form.data, _int(form.lock_version.data))
    except services.Conflict as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _render_edit(get_visit_or_404(visit_id), form, 409)
    except services.Overlap as exc:
        db.session.rollback()
        form.start_time.errors = [str(exc)]
        return _render_edit(get_visit_or_404(visit_id), form, 422)
    return _after_save(visit, request.form.get("action", "save"))


def _after_save(visit: Visit, action: str):
    """The second half of a save: the button's own action, then one commit."""
    anchor, missing = "", []
    if action == "search":
        db.session.commit()
        query = request.form.get("protocol_query", "")
        return redirect(url_for("visits.edit", visit_id=visit.id, pq=query, _anchor="treatment"))
    if action.startswith("add:"):
        response = _add(visit, action.removeprefix("add:"))
        if response is not None:
            return response
        anchor = "treatment"
    elif action.startswith("remove:"):
        applied = next(
            (a for a in visit.applied if str(a.id) == action.removeprefix("remove:")), None
        )
        if applied is not None:
            services.remove_protocol(visit, applied)
        anchor = "treatment"
    elif action == "sign":
        missing = services.sign(visit, current_user)
        if not missing:
            db.session.commit()
            flash(
                "Note signed. It can no longer change; add an amendment if you need to.", "success"
            )
            return redirect(url_for("visits.show", visit_id=visit.id))
    db.session.commit()
    if missing:
        form = VisitForm(formdata=None, data=services.form_initial(visit))
        return _render_edit(visit, form, 422, missing)
    flash("Draft saved.", "success")
    return redirect(url_for("visits.edit", visit_id=visit.id, _anchor=anchor))


def _add(visit: Visit, protocol_id: str):
    protocol = get_library().get(protocol_id)
    if protocol is None:
        flash("That protocol is not in the library.", "error")
        return None
    try:
        services.add_protocol(visit, current_user, protocol)
    except services.NeedsAcknowledgement:
        db.session.commit()
        return redirect(url_for("visits.acknowledge", visit_id=visit.id, protocol_id=protocol.id))
    except services.VisitError as exc:
        flash(str(exc), "error")
    return None


@bp.post("/visits/<int:visit_id>/autosave")
@require(Permission.NOTE_WRITE)
def autosave(visit_id: int):
    """Save the draft from the page's script; answers JSON."""
    visit = _chartable(visit_id)
    if visit.is_signed:
        _refuse_signed(visit)
        return jsonify(ok=False, error="This note is signed and cannot change."), 409
    form = VisitForm()
    if not form.validate():
        return jsonify(
            ok=False,
            error="Not saved: correct the marked entries and save.",
            fields=sorted(form.errors),
        ), 422
    try:
        services.save_draft(
            visit, current_user, form.data, _int(form.lock_version.data), via="autosave"
        )
    except (services.Conflict, services.Overlap) as exc:
        db.session.rollback()
        return jsonify(ok=False, error=str(exc)), 409
    db.session.commit()
    return jsonify(ok=True, lock_version=visit.lock_version, saved_at=visit.updated_at.isoformat())


def _refuse_signed(visit: Visit):
    """A change aimed at a signed note (a stale tab or a crafted POST): refuse and audit."""
    audit.record(Action.VISIT_CHANGE_REFUSED, visit, patient=visit.patient, path=request.path)
    db.session.commit()
    flash("This note is signed and cannot change. Add an amendment instead.", "error")
    return redirect(url_for("visits.show", visit_id=visit.id)), 303


@bp.route("/visits/<int:visit_id>/acknowledge/<protocol_id>", methods=["GET", "POST"])
@require(Permission.NOTE_WRITE)
def acknowledge(visit_id: int, protocol_id: str):
    """Show the contraindications a protocol matches; apply it once acknowledged with a reason."""
    visit = _chartable(visit_id)
    protocol = get_library().get(protocol_id)
    if protocol is None:
        abort(404)
    if visit.is_signed:
        return _refuse_signed(visit)
    result = services.check_protocol(visit, protocol)
    form = AcknowledgeForm()
    if form.validate_on_submit():
        if result.blocked and not form.confirm_absolute.data:
            form.confirm_absolute.errors = [
                "An absolute contraindication needs medical clearance to go ahead."
            ]
        else:
            try:
                services.add_protocol(
                    visit,
                    current_user,
                    protocol,
                    reason=form.reason.data,
                    confirm_absolute=form.confirm_absolute.data,
                )
            except services.VisitError as exc:
                flash(str(exc), "error")
            db.session.commit()
            return redirect(url_for("visits.edit", visit_id=visit.id, _anchor="treatment"))
    audit.record(Action.VISIT_VIEW, visit, patient=visit.patient, page="contraindications")
    audit.commit_view()
    return render_template(
        "visits/acknowledge.html", visit=visit, protocol=protocol, result=result, form=form
    )


@bp.get("/visits/<int:visit_id>")
@require(Permission.CLINICAL_READ)
def show(visit_id: int):
    """A visit's note as recorded, with its amendments in order."""
    visit = services.load_visit_for_page(get_visit_or_404(visit_id))
    audit.record(Action.VISIT_VIEW, visit, patient=visit.patient, mode="read")
    html = render_template(
        "visits/show.html", visit=visit, form=AmendmentForm(), can_chart=can_chart(current_user, visit),
        areas=services.areas_treated(visit), sensitive_consent=services.sensitive_consent(visit),
    )  # fmt: skip
    audit.commit_view()
    return html


@bp.post("/visits/<int:visit_id>/amendments")
@require(Permission.NOTE_WRITE)
def amend(visit_id: int):
    """Add an amendment (text and reason) to a signed note."""
    visit = _chartable(visit_id)
    form = AmendmentForm()
    if form.validate_on_submit():
        try:
            services.amend(visit, current_user, form.reason.data, form.text.data)
        except services.VisitError as exc:
            flash(str(exc), "error")
            return redirect(url_for("visits.edit", visit_id=visit.id))
        db.session.commit()
        flash("Amendment added.", "success")
        return redirect(url_for("visits.show", visit_id=visit.id, _anchor="amendments"))
    services.load_visit_for_page(visit)
    return render_template(
        "visits/show.html", visit=visit, form=form, can_chart=True, areas=services.areas_treated(visit),
        sensitive_consent=services.sensitive_consent(visit),
    ), 422  # fmt: skip


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


@bp.get("/visits/<int:visit_id>/pdf")
@require(Permission.CLINICAL_READ)
def pdf(visit_id: int):
    """The signed note with its amendments, as PDF (audited as a print)."""
    visit = services.load_visit_for_page(get_visit_or_404(visit_id))
    if not visit.is_signed:
        abort(409)
    data = render_pdf(
        "pdf/visit_note.html", visit=visit, clinic=current_user.clinic,
        areas=services.areas_treated(visit), sensitive_consent=services.sensitive_consent(visit),
        printed_at=utcnow(), printed_by=current_user,
    )  # fmt: skip
    audit.record(Action.VISIT_PRINT, visit, patient=visit.patient)
    db.session.commit()
    return pdf_response(data, f"visit-{visit.id}-{visit.visit_date.isoformat()}.pdf")
