"""Sign-in, sign-out and password change."""

from __future__ import annotations

from flask_login import LoginManager

from app.extensions import db
from app.models import User


def init_login(manager: LoginManager) -> None:
    manager.login_view = "auth.signin"
    manager.login_message = "Please sign in to continue."
    manager.login_message_category = "info"
    manager.session_protection = "basic"

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        """Resolve ``id:session_token``; a changed token or a deactivation signs out."""
        raw_id, _, token = user_id.partition(":")
        if not raw_id.isdigit():
            return None
        user = db.session.get(User, int(raw_id))
        if user is None or not user.active or user.session_token != token:
            return None
        return user
