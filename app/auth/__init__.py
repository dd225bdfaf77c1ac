"""Sign-in, sign-out and password change."""

from __future__ import annotations

from flask_login import LoginManager
from sqlalchemy import bindparam, select

from app.extensions import db
from app.models import User

# Every signed-in request loads its user. A statement built once is cheaper to run than
# ``Session.get``, which builds its own on every identity-map miss (every request).
_USER_BY_ID = select(User).where(User.id == bindparam("user_id"))


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
        user = db.session.execute(_USER_BY_ID, {"user_id": int(raw_id)}).scalar()
        if user is None or not user.active or user.session_token != token:
            return None
        return user
