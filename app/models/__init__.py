"""The data model, one module per aggregate."""

from app.models.audit import AuditChainHead, AuditEvent
from app.models.clinic import JURISDICTIONS, Clinic, Location
from app.models.oversight import ComplianceFlag, ComplianceSettings, RetentionPurge
from app.models.patient import (
    CONSENT_ELEMENTS,
    Consent,
    HealthHistory,
    ImmutableRecordError,
    Patient,
)
from app.models.portal import RECORD_REQUEST_DAYS, PortalInvite, RecordCopy, RecordRequest
from app.models.receipt import (
    GIFT_CERTIFICATE,
    PAYMENT_METHODS,
    BillingSettings,
    FeeScheduleItem,
    MissedVisitFee,
    Receipt,
    ReceiptCounter,
    ReceiptReissue,
    ReceiptVoid,
    SignatureImage,
    TreatmentSummary,
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
    "GIFT_CERTIFICATE",
    "JURISDICTIONS",
    "NO_SHOW",
    "PAYMENT_METHODS",
    "RECORD_REQUEST_DAYS",
    "SIGNED",
    "Amendment",
    "AppliedProtocol",
    "AuditChainHead",
    "AuditEvent",
    "BillingSettings",
    "Clinic",
    "ComplianceFlag",
    "ComplianceSettings",
    "Consent",
    "FeeScheduleItem",
    "HealthHistory",
    "ImmutableRecordError",
    "Location",
    "MissedVisitFee",
    "Patient",
    "PortalInvite",
    "Receipt",
    "ReceiptCounter",
    "ReceiptReissue",
    "ReceiptVoid",
    "RecordCopy",
    "RecordRequest",
    "RetentionPurge",
    "Role",
    "SignatureImage",
    "TreatmentSummary",
    "User",
    "Visit",
    "utcnow",
]
