"""Protocol library pages: browse, search and filter; one protocol in full."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from app import audit
from app.audit import Action
from app.authz import Permission, can, get_or_404, require
from app.models import Patient
from app.protocols import get_library, services
from app.protocols.forms import ProtocolSearchForm
from app.vocab import INDICATIONS, MUSCLES, REGIONS

bp = Blueprint("protocols", __name__, url_prefix="/protocols")


@bp.context_processor
def vocabularies() -> dict[str, object]:
    return {"REGIONS": REGIONS, "MUSCLES": MUSCLES, "INDICATIONS": INDICATIONS}


@bp.get("/")
@require(Permission.PROTOCOL_READ)
def index():
    """Browse the library by category, or search and filter it."""
    library = get_library()
    form = ProtocolSearchForm(request.args)
    form.offer(library)
    browse = services.browse(library, form.criteria())
    return render_template("protocols/index.html", form=form, browse=browse, total=len(library))


@bp.get("/<protocol_id>")
@require(Permission.PROTOCOL_READ)
def show(protocol_id: str):
    """One protocol: summary, contraindications, procedure, home care and references."""
    protocol = get_library().get(protocol_id)
    if protocol is None:
        abort(404)
    patient_check = None
    patient_id = request.args.get("patient_id", type=int)
    if patient_id is not None and can(current_user, Permission.CLINICAL_READ):
        patient = get_or_404(Patient, patient_id)
        patient_check = services.check_patient(patient, protocol)
        audit.record(Action.HISTORY_VIEW, patient, protocol=protocol.id, via="protocol_check")
        audit.commit_view()
    return render_template("protocols/show.html", protocol=protocol, check=patient_check)
