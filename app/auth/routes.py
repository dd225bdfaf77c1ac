"""Sign in, sign out, change password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app import audit
from app.audit import Action
from app.auth import services
from app.auth.forms import PasswordChangeForm, SigninForm
from app.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _signin_limit() -> str:
    return current_app.config["SIGNIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    """Only follow a local path after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("main.home")


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def signin():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SigninForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data or "", form.password.data or "")
        db.session.commit()
        if user is not None:
            login_user(user, remember=form.remember.data)
            if user.must_change_password:
                flash("Please choose your own password before you continue.", "info")
                return redirect(url_for("auth.password"))
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("That email and password do not match an active account.")
    return render_template("auth/signin.html", form=form)


@bp.post("/signout")
@login_required
def signout():
    """Sign the user out."""
    audit.record(Action.SIGNOUT, current_user._get_current_object())
    db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.signin"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if services.change_password(user, form.current_password.data, form.new_password.data):
            db.session.commit()
            login_user(user)  # the session token changed; keep this session
            flash("Your password is changed. Other devices have been signed out.", "success")
            return redirect(url_for("main.home"))
        form.current_password.errors.append("That is not your current password.")
    return render_template("auth/password.html", form=form)
