"""The patient portal, kept apart from the staff pages.

Two blueprints: ``portal`` (/portal, for patients) and ``portal_clinic`` (the
clinic's invite button and record-copy requests). A patient account reaches
nothing outside the portal: ``keep_patients_in_portal`` answers 403 first, on
top of the empty permission set of the patient role.
"""

from __future__ import annotations

from flask import Flask, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import Role

# Staff-side endpoints a signed-in patient may still reach (public or harmless).
OPEN_TO_PATIENTS = frozenset({"static", "auth.signout", "main.health", "receipts.verify"})


def keep_patients_in_portal():
    """A patient account gets the portal, never a staff page."""
    if not current_user.is_authenticated or current_user.role != Role.PATIENT:
        return None
    endpoint = request.endpoint
    if endpoint is None or endpoint.startswith("portal.") or endpoint in OPEN_TO_PATIENTS:
        return None
    if endpoint == "auth.signin":
        return redirect(url_for("portal.home"))
    return render_template("portal/error.html", code=403), 403


def init_app(app: Flask) -> None:
    from app.portal.clinic import bp as clinic_bp
    from app.portal.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(clinic_bp)
    app.before_request(keep_patients_in_portal)
    app.login_manager.blueprint_login_views["portal"] = "portal.signin"  # type: ignore[attr-defined]
