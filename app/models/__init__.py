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
from app.models.visit import (
    ATTENDED,
    CANCELLED,
    DRAFT,
    NO_SHOW,
    SIGNED,
    Amendment,
    AppliedProtocol,
    Visit,
)

__all__ = [
    "ATTENDED",
    "CANCELLED",
    "CONSENT_ELEMENTS",
    "DRAFT",
    "JURISDICTIONS",
    "NO_SHOW",
    "SIGNED",
    "Amendment",
    "AppliedProtocol",
    "AuditEvent",
    "Clinic",
    "Consent",
    "HealthHistory",
    "ImmutableRecordError",
    "Location",
    "Patient",
    "Role",
    "User",
    "Visit",
    "utcnow",
]
