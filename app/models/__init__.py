"""The data model, one module per aggregate."""

from app.models.audit import AuditEvent
from app.models.clinic import JURISDICTIONS, Clinic, Location
from app.models.patient import (
    CONSENT_ELEMENTS,
    Consent,
    HealthHistory,
    ImmutableRecordError,
    Patient,
)
from app.models.types import utcnow
from app.models.user import Role, User

__all__ = [
    "CONSENT_ELEMENTS",
    "JURISDICTIONS",
    "AuditEvent",
    "Clinic",
    "Consent",
    "HealthHistory",
    "ImmutableRecordError",
    "Location",
    "Patient",
    "Role",
    "User",
    "utcnow",
]
