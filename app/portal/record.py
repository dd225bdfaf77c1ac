"""The copy of a patient's whole record (R6): one PDF for people, one JSON for machines.

``fulfil`` builds both from the database as it stands, stores them in a
``RecordCopy`` (append-only: the copy delivered is evidence) and audits it.
Unlike the portal's own pages, the copy holds everything the clinic keeps:
every visit with its amendments, every health-history version, consents,
receipts, fees and summaries.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import audit, mail
from app.audit import Action
from app.extensions import db
from app.models import (
    CONSENT_ELEMENTS,
    Clinic,
    Consent,
    HealthHistory,
    MissedVisitFee,
    Patient,
    Receipt,
    RecordCopy,
    RecordRequest,
    TreatmentSummary,
    User,
    Visit,
    utcnow,
)
from app.pdf import PdfAttachment, render_pdf
from app.portal.services import PortalRefused
from app.receipts.services import local_date


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _row(obj: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of ``obj`` as JSON-ready values (binary columns are never included)."""
    mapper = obj.__mapper__
    return {
        attr.key: _value(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in skip and not attr.deferred
    }


def _people(ids: set[int]) -> dict[int, str]:
    rows = db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return {row.id: row.full_name for row in rows}


class Chart:
    """Everything the clinic holds about one patient, loaded once."""

    def __init__(self, patient: Patient) -> None:
        self.patient = patient
        self.clinic = db.session.get(Clinic, patient.clinic_id)
        pid = patient.id
        self.histories = list(
            db.session.scalars(
                select(HealthHistory)
                .where(HealthHistory.patient_id == pid)
                .order_by(HealthHistory.version)
            )
        )
        self.consents = list(
            db.session.scalars(
                select(Consent).where(Consent.patient_id == pid).order_by(Consent.recorded_at)
            )
        )
        self.visits = list(
            db.session.scalars(
                select(Visit)
                .where(Visit.patient_id == pid)
                .options(
                    selectinload(Visit.applied),
                    selectinload(Visit.amendments),
                    selectinload(Visit.therapist),
                    selectinload(Visit.location),
                )
                .order_by(Visit.local_start)
            )
        )
        self.receipts = list(
            db.session.scalars(
                select(Receipt)
                .where(Receipt.patient_id == pid)
                .options(selectinload(Receipt.void), selectinload(Receipt.reissues))
                .order_by(Receipt.number)
            )
        )
        self.fees = list(
            db.session.scalars(select(MissedVisitFee).where(MissedVisitFee.patient_id == pid))
        )
        self.summaries = list(
            db.session.scalars(
                select(TreatmentSummary)
                .where(TreatmentSummary.patient_id == pid)
                .order_by(TreatmentSummary.created_at)
            )
        )
        ids = {h.recorded_by_id for h in self.histories} | {c.recorded_by_id for c in self.consents}
        ids |= {a.author_id for v in self.visits for a in v.amendments}
        ids |= {v.signed_by_id for v in self.visits if v.signed_by_id}
        self.names = _people(ids)

    def payload(self, produced_at: datetime) -> dict[str, Any]:
        """The structured export: the same content as the PDF."""
        return {
            "type": "patient_record_copy",
            "produced_at": produced_at.isoformat(),
            "clinic": {"name": self.clinic.name, "address": self.clinic.address,
                       "phone": self.clinic.phone},
            "patient": _row(self.patient, skip=("family_key", "given_key", "preferred_key",
                                                "phone_digits")),
            "health_history_versions": [
                {**_row(h), "recorded_by": self.names.get(h.recorded_by_id)}
                for h in self.histories
            ],
            "consents": [
                {**_row(c), "recorded_by": self.names.get(c.recorded_by_id)} for c in self.consents
            ],
            "visits": [self._visit(v) for v in self.visits],
            "receipts": [
                {
                    **_row(r),
                    "void": _row(r.void) if r.void else None,
                    "reissues": [_row(x) for x in r.reissues],
                }
                for r in self.receipts
            ],
            "missed_visit_fees": [_row(fee) for fee in self.fees],
            "treatment_summaries": [_row(s) for s in self.summaries],
        }  # fmt: skip

    def _visit(self, visit: Visit) -> dict[str, Any]:
        return {
            **_row(visit),
            "therapist": visit.therapist.full_name,
            "location": visit.location.name if visit.location else None,
            "signed_by": self.names.get(visit.signed_by_id) if visit.signed_by_id else None,
            "applied_protocols": [_row(a) for a in visit.applied],
            "amendments": [
                {**_row(a), "author": self.names.get(a.author_id)} for a in visit.amendments
            ],
        }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fulfil(request: RecordRequest, by: User) -> RecordCopy:
    """Produce, store and audit the copy of the whole record for ``request``."""
    if request.record_copy is not None:
        raise PortalRefused("This request has already been fulfilled.")
    chart = Chart(request.patient)
    now = utcnow()
    payload = chart.payload(now)
    payload["request"] = {
        "requested_at": request.requested_at.isoformat(), "due_on": request.due_on.isoformat()
    }  # fmt: skip
    data = json.dumps(payload, indent=2, ensure_ascii=False).encode()
    pdf = render_pdf(
        "pdf/record_copy.html", chart=chart, record_request=request, produced_on=local_date(now),
        produced_by=by, names=chart.names, consent_elements=CONSENT_ELEMENTS,
        attachments=[PdfAttachment("record.json", data, "The record's data", now)],
    )  # fmt: skip
    row = RecordCopy(
        clinic_id=request.clinic_id, patient_id=request.patient_id, request_id=request.id,
        created_at=now, created_by_id=by.id, pdf_data=pdf, pdf_sha256=_sha(pdf),
        json_data=data, json_sha256=_sha(data),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    audit.record(
        Action.RECORD_COPY_CREATE, row, actor=by, patient=request.patient,
        request_id=request.id, visits=len(chart.visits), pdf_sha256=row.pdf_sha256,
        json_sha256=row.json_sha256,
    )  # fmt: skip
    return row


def notify(row: RecordCopy, link: str, by: User) -> bool:
    """Email the patient that the copy is ready (no attachment: it is in the portal).

    Returns False when there is no address or no mail server; raises MailError when
    sending fails. Audited only when sent.
    """
    patient = row.record_request.patient
    if not patient.email or not mail.configured():
        return False
    clinic = db.session.get(Clinic, patient.clinic_id)
    mail.send_mail(
        patient.email,
        f"Your record from {clinic.name} is ready",
        f"Hello {patient.given_name},\n\nThe copy of your record you asked for is ready. "
        f"Sign in to the patient portal to download it:\n\n{link}\n\n{clinic.name}\n",
    )
    audit.record(Action.RECORD_COPY_EMAIL, row, actor=by, patient=patient, to=patient.email)
    return True
