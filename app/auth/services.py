"""Account logic: authenticate and change passwords. No request access here."""

from __future__ import annotations

from sqlalchemy import func, select

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import Role, User, utcnow
from app.models.user import new_session_token
from app.security import hash_password, needs_rehash, verify_password


def _door_problem(user: User, portal: bool) -> str | None:
    """Staff sign in only at /signin, patients only at the portal (/portal/signin)."""
    if not user.active:
        return "inactive"
    if portal != (user.role == Role.PATIENT) or (portal and user.patient_id is None):
        return "portal account at staff sign-in" if not portal else "staff account at portal"
    return None


def authenticate(email: str, password: str, *, portal: bool = False) -> User | None:
    """Return the active user with these credentials, or None (and audit the failure).

    ``portal`` selects the door: patient accounts at the portal, staff elsewhere.
    """
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    ok = verify_password(user.password_hash if user else None, password)
    problem = _door_problem(user, portal) if ok and user else "bad credentials"
    if problem:
        audit.record(
            Action.SIGNIN_FAILED,
            actor=None,
            clinic_id=user.clinic_id if user else None,
            email=email.strip().lower()[:254],
            reason=problem,
        )
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = utcnow()
    audit.record(Action.SIGNIN, user, actor=user)
    return user


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password if ``current`` is right; signs out every other session."""
    if not verify_password(user.password_hash, current):
        return False
    user.password_hash = hash_password(new)
    user.session_token = new_session_token()
    user.must_change_password = False
    audit.record(Action.PASSWORD_CHANGE, user, actor=user)
    return True
