"""Owner logic: clinic settings, locations, staff accounts, audit queries."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import AuditEvent, Clinic, Location, Role, User
from app.security import hash_password

CLINIC_FIELDS = (
    "name",
    "address",
    "phone",
    "email",
    "business_number",
    "jurisdiction",
    "retention_years",
)
LOCATION_FIELDS = ("name", "address", "phone", "active")
PROFILE_FIELDS = (
    "full_name",
    "email",
    "role",
    "designation",
    "registration_number",
    "registering_body",
)


class EmailTaken(ValueError):
    """Another account already signs in with this email."""


class BadImage(ValueError):
    """The upload is not a usable PNG or JPEG image."""


def _apply(obj: Any, data: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    changed = [f for f in fields if f in data and getattr(obj, f) != data[f]]
    for name in changed:
        setattr(obj, name, data[name])
    return changed


def update_clinic(clinic: Clinic, data: dict[str, Any]) -> list[str]:
    """Change clinic settings; audit which ones changed."""
    changed = _apply(clinic, data, CLINIC_FIELDS)
    if changed:
        audit.record(Action.CLINIC_UPDATE, clinic, fields=changed)
    return changed


def save_location(
    clinic_id: int, data: dict[str, Any], location: Location | None = None
) -> Location:
    """Create a location, or update ``location``."""
    if location is None:
        location = Location(clinic_id=clinic_id)
        _apply(location, data, LOCATION_FIELDS)
        db.session.add(location)
        db.session.flush()
        audit.record(Action.LOCATION_CREATE, location, name=location.name)
    elif changed := _apply(location, data, LOCATION_FIELDS):
        audit.record(Action.LOCATION_UPDATE, location, fields=changed)
    return location


def clean_signature(raw: bytes, max_bytes: int) -> tuple[bytes, str]:
    """Check an uploaded signature and re-encode it as PNG (drops metadata)."""
    from PIL import Image, UnidentifiedImageError  # here, not at import: start-up stays fast

    if len(raw) > max_bytes:
        raise BadImage(f"The image is larger than {max_bytes // 1024} KB.")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format not in {"PNG", "JPEG"}:
                raise BadImage("Upload a PNG or JPEG image.")
            img.load()
            if img.width > 3000 or img.height > 2000:
                raise BadImage("The image is too large; keep it under 3000 × 2000 pixels.")
            out = io.BytesIO()
            img.convert("RGBA" if img.mode in {"P", "LA", "RGBA"} else "RGB").save(out, "PNG")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BadImage("That file is not a readable PNG or JPEG image.") from exc
    return out.getvalue(), "image/png"


def _email_taken(email: str, exclude_id: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.email) == email.lower())
    if exclude_id:
        stmt = stmt.where(User.id != exclude_id)
    return db.session.scalar(stmt) is not None


def create_staff(clinic_id: int, data: dict[str, Any], signature: tuple[bytes, str] | None) -> User:
    """Create a staff account that must choose its own password at first sign-in."""
    if _email_taken(data["email"]):
        raise EmailTaken(data["email"])
    user = User(
        clinic_id=clinic_id,
        password_hash=hash_password(data["password"]),
        must_change_password=True,
    )
    _apply(user, {**data, "email": data["email"].lower()}, PROFILE_FIELDS)
    if signature:
        user.signature_image, user.signature_mimetype = signature
    db.session.add(user)
    db.session.flush()
    audit.record(Action.USER_CREATE, user, role=user.role)
    return user


def update_staff(
    user: User, data: dict[str, Any], signature: tuple[bytes, str] | None
) -> list[str]:
    """Edit a staff profile (and signature); audit the fields that changed."""
    if _email_taken(data["email"], exclude_id=user.id):
        raise EmailTaken(data["email"])
    changed = _apply(user, {**data, "email": data["email"].lower()}, PROFILE_FIELDS)
    if signature:
        user.signature_image, user.signature_mimetype = signature
        changed.append("signature")
    if changed:
        audit.record(Action.USER_UPDATE, user, fields=changed)
    return changed


def set_active(user: User, active: bool) -> None:
    """Deactivate or reactivate an account; never deletes it."""
    if user.active == active:
        return
    user.active = active
    audit.record(Action.USER_REACTIVATE if active else Action.USER_DEACTIVATE, user)


def staff_list(clinic_id: int) -> list[User]:
    stmt = (
        select(User)
        .where(User.clinic_id == clinic_id, User.role != Role.PATIENT)
        .order_by(User.active.desc(), User.full_name)
    )
    return list(db.session.scalars(stmt))


@dataclass
class AuditPage:
    events: list[AuditEvent]
    next_before: int | None


def audit_page(
    clinic_id: int,
    *,
    actor_id: int | None = None,
    patient_id: int | None = None,
    action: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    before: int | None = None,
    size: int = 50,
) -> AuditPage:
    """A page of the clinic's audit log, newest first, keyset-paginated by id."""
    stmt = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if patient_id:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if date_from:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(date_from, time.min, UTC))
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time.min, UTC)
        stmt = stmt.where(AuditEvent.created_at < end)
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    # The actors in one more query (no N+1). Loading them into the session and
    # dropping the list is not enough: the identity map holds rows weakly.
    stmt = stmt.options(selectinload(AuditEvent.actor))
    rows = list(db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(size + 1)))
    events = rows[:size]
    return AuditPage(events, events[-1].id if len(rows) > size else None)
