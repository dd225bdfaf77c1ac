"""Home page, health check, and the forced password change at first sign-in."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from app.authz import Permission, can
from app.extensions import db
from app.visits.services import local_now, therapist_day

bp = Blueprint("main", __name__)

_ALLOWED_WHILE_PASSWORD_PENDING = {"auth.password", "auth.signout", "static", "main.health"}


@bp.before_app_request
def force_password_change():
    """An account with a temporary password may only change it or sign out."""
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in _ALLOWED_WHILE_PASSWORD_PENDING
    ):
        return redirect(url_for("auth.password"))
    return None


@bp.get("/")
@login_required
def home():
    """Where staff land: a therapist sees today's visits, open drafts and overdue notes."""
    day = None
    if can(current_user, Permission.NOTE_WRITE):
        day = therapist_day(current_user, local_now(current_app.config["TIMEZONE"]))
    return render_template("main/home.html", day=day)


@bp.get("/health")
def health():
    """Liveness and database check for load balancers."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
