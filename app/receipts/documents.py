"""The patient's documents: receipts, treatment summaries and year-end statements.

Each ``print_*`` renders a PDF through ``app.pdf.render_pdf`` and writes the audit
entry in the caller's transaction; each ``email_*`` does the same and sends the PDF.
Receipts and summaries carry a verification code, its QR code, and the same data as
a JSON attachment (PDF/A-3b).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app import audit, mail
from app.audit import Action
from app.charts import PainPoint, describe_pain_trend, pain_trend_png
from app.extensions import db
from app.models import (
    ATTENDED,
    SIGNED,
    Clinic,
    Patient,
    Receipt,
    ReceiptReissue,
    TreatmentSummary,
    User,
    Visit,
    utcnow,
)
from app.oversight.retention import refuse_if_purged
from app.pdf import PdfAttachment, render_pdf
from app.receipts.services import ReceiptRefused, local_date, new_code


def verify_url(code: str) -> str:
    """The public address of ``/verify/<code>`` (PUBLIC_BASE_URL, else this request's host)."""
    base = current_app.config.get("PUBLIC_BASE_URL") or (
        request.host_url if has_request_context() else "http://localhost/"
    )
    return f"{base.rstrip('/')}/verify/{code}"


def qr_data_uri(url: str, scale: int = 4) -> str:
    """The verification QR code as an 8-bit greyscale PNG, ``scale`` pixels per module.

    PNG, not SVG: a 29-module SVG path costs WeasyPrint ~40 ms more per render. Drawn
    with Pillow rather than segno's 1-bit PNG writer: WeasyPrint converts a 1-bit image to
    RGB and encodes it again, while an 8-bit greyscale PNG goes into the PDF as it is
    (``app.pdf.png_idat``). Same modules, black on white, no quiet zone (the page has one).
    """
    import segno  # imported on first use, with Pillow: start-up stays fast
    from PIL import Image

    matrix = segno.make(url, error="m").matrix
    side = len(matrix)
    modules = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (side, side), modules)
    image = image.resize((side * scale, side * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return _data_uri(out.getvalue(), "image/png")


def _data_uri(image: bytes, mimetype: str) -> str:
    return f"data:{mimetype};base64,{base64.b64encode(image).decode()}"


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False).encode()


# Receipts -------------------------------------------------------------------------


def receipt_payload(receipt: Receipt, reissue: ReceiptReissue | None = None) -> dict[str, Any]:
    """Everything the receipt prints, machine-readable (embedded as receipt.json)."""
    code = reissue.verification_code if reissue else receipt.verification_code
    return {
        "type": "receipt",
        "copy": "duplicate" if reissue else "original",
        "status": "void" if receipt.is_void else ("duplicate" if reissue else "genuine"),
        "receipt_number": receipt.number_label,
        "issued_on": local_date(receipt.issued_at).isoformat(),
        "reissued_on": local_date(reissue.reissued_at).isoformat() if reissue else None,
        "clinic": {
            "name": receipt.clinic_name,
            "address": receipt.clinic_address,
            "phone": receipt.clinic_phone,
            "business_number": receipt.clinic_business_number or None,
        },
        "patient": {"full_name": receipt.patient_name},
        "service": {
            "date": receipt.service_date.isoformat(),
            "start_time": receipt.service_start.strftime("%H:%M"),
            "duration_minutes": receipt.duration_minutes,
            "description": receipt.service_description,
        },
        "therapist": {
            "full_name": receipt.therapist_name,
            "designation": receipt.therapist_designation,
            "registration_number": receipt.therapist_registration_number,
            "registering_body": receipt.therapist_registering_body or None,
        },
        "amounts": {
            "currency": "CAD",
            "fee": _decimal(receipt.fee_cents),
            "tax_name": receipt.tax_name,
            "tax_rate_percent": receipt.tax_rate_bp / 100,
            "tax": _decimal(receipt.tax_cents),
            "total": _decimal(receipt.total_cents),
            "paid": _decimal(receipt.paid_cents),
        },
        "payment_method": receipt.payment_label,
        "paid_in_full": receipt.paid_in_full,
        "void": {"voided_on": local_date(receipt.void.voided_at).isoformat()}
        if receipt.void
        else None,
        "verification": {"code": code, "url": verify_url(code)},
    }


def _decimal(cents: int) -> str:
    return f"{cents / 100:.2f}"


def receipt_filename(receipt: Receipt, reissue: ReceiptReissue | None = None) -> str:
    suffix = f"-duplicate-{reissue.copy_number}" if reissue else ""
    return f"receipt-{receipt.number_label}{suffix}.pdf"


def render_receipt(receipt: Receipt, reissue: ReceiptReissue | None = None) -> bytes:
    """The receipt PDF (original, DUPLICATE or VOID). Renders only: no audit."""
    payload = receipt_payload(receipt, reissue)
    signature = receipt.signature
    return render_pdf(
        "pdf/receipt.html",
        receipt=receipt,
        reissue=reissue,
        payload=payload,
        issued_on=local_date(receipt.issued_at),
        reissued_on=local_date(reissue.reissued_at) if reissue else None,
        voided_on=local_date(receipt.void.voided_at) if receipt.void else None,
        qr=qr_data_uri(payload["verification"]["url"]),
        signature=_data_uri(signature.image, signature.mimetype) if signature else None,
        attachments=[
            PdfAttachment("receipt.json", _json(payload), "The receipt's data", receipt.issued_at)
        ],
    )


def print_receipt(
    receipt: Receipt, reissue: ReceiptReissue | None = None, *, actor: User | None = None
) -> bytes:
    """Render a receipt for printing or download and audit it."""
    data = render_receipt(receipt, reissue)
    audit.record(
        Action.RECEIPT_PRINT, receipt, actor=actor, patient=receipt.patient,
        number=receipt.number, copy=reissue.copy_number if reissue else "original",
    )  # fmt: skip
    return data


def email_receipt(
    receipt: Receipt, reissue: ReceiptReissue | None = None, *, actor: User | None = None
) -> None:
    """Email the receipt (the original, or the given DUPLICATE) to the patient; audit it."""
    patient = _patient_with_email(receipt.patient)
    data = render_receipt(receipt, reissue)
    audit.record(
        Action.RECEIPT_EMAIL, receipt, actor=actor, patient=patient, number=receipt.number,
        copy=reissue.copy_number if reissue else "original", to=patient.email,
    )  # fmt: skip
    _send(
        patient,
        f"Your receipt {receipt.number_label} from {receipt.clinic_name}",
        "Attached is your receipt for your massage therapy treatment on "
        f"{receipt.service_date.isoformat()}.",
        receipt_filename(receipt, reissue),
        data,
        receipt.clinic_name,
    )


# Treatment summaries ----------------------------------------------------------------


def summary_visits(patient: Patient, first: date, last: date) -> list[Visit]:
    """The patient's signed, attended visits between ``first`` and ``last`` (inclusive)."""
    start = datetime.combine(first, datetime.min.time())
    end = datetime.combine(last, datetime.max.time())
    stmt = (
        select(Visit)
        .where(
            Visit.patient_id == patient.id,
            Visit.status == SIGNED,
            Visit.attendance == ATTENDED,
            Visit.local_start >= start,
            Visit.local_start <= end,
        )
        .options(
            # Two many-to-one users joined into the visits query: two statements fewer.
            joinedload(Visit.therapist),
            joinedload(Visit.signed_by),
            selectinload(Visit.applied),
            selectinload(Visit.amendments),
        )
        .order_by(Visit.local_start)
    )
    return list(db.session.scalars(stmt))


def _therapist_brief(user: User) -> dict[str, str]:
    return {
        "name": user.full_name,
        "designation": user.designation,
        "registration_number": user.registration_number,
    }


def create_summary(
    patient: Patient, first: date, last: date, *, actor: User | None
) -> tuple[TreatmentSummary, list[Visit]]:
    """Record a treatment summary of the signed visits in the period (for verification)."""
    refuse_if_purged(patient, ReceiptRefused)
    if last < first:
        raise ReceiptRefused("The end of the period is before its start.")
    visits = summary_visits(patient, first, last)
    if not visits:
        raise ReceiptRefused("There are no signed visits in that period.")
    therapists = {v.therapist.id: v.therapist for v in visits}
    summary = TreatmentSummary(
        clinic_id=patient.clinic_id, patient_id=patient.id, date_from=first, date_to=last,
        visit_ids=[v.id for v in visits],
        therapists=[_therapist_brief(t) for t in therapists.values()],
        first_service=visits[0].visit_date, last_service=visits[-1].visit_date,
        created_by_id=actor.id if actor else None, verification_code=new_code(),
    )  # fmt: skip
    db.session.add(summary)
    db.session.flush()
    return summary, visits


def summary_payload(
    summary: TreatmentSummary, patient: Patient, visits: list[Visit]
) -> dict[str, Any]:
    clinic = db.session.get(Clinic, summary.clinic_id)
    return {
        "type": "treatment_summary",
        "clinic": {"name": clinic.name, "address": clinic.address, "phone": clinic.phone},
        "patient": {
            "full_name": patient.full_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
        },
        "period": {"from": summary.date_from.isoformat(), "to": summary.date_to.isoformat()},
        "issued_on": local_date(summary.created_at).isoformat(),
        "therapists": summary.therapists,
        "visits": [
            {
                "date": v.visit_date.isoformat(),
                "start_time": v.start_time.strftime("%H:%M"),
                "duration_minutes": v.duration_minutes,
                "therapist": v.therapist.full_name,
                "chief_complaint": v.chief_complaint,
                "clinical_impression": v.clinical_impression,
                "protocols": [a.title for a in v.applied],
                "pain_before": v.pain_before,
                "pain_after": v.pain_after,
                "home_care": v.home_care,
                "signed_by": v.signed_by.full_name if v.signed_by else None,
                "signed_on": local_date(v.signed_at).isoformat() if v.signed_at else None,
                "amendments": [
                    {"on": local_date(a.created_at).isoformat(), "reason": a.reason, "text": a.text}
                    for a in v.amendments
                ],
            }
            for v in visits
        ],
        "verification": {
            "code": summary.verification_code,
            "url": verify_url(summary.verification_code),
        },
    }


# Left out of the patient portal's copy of a summary: the clinic keeps these internal.
INTERNAL_SUMMARY_FIELDS = ("clinical_impression", "amendments")


def render_summary(
    summary: TreatmentSummary, patient: Patient, visits: list[Visit], *, patient_copy: bool = False
) -> bytes:
    """The summary PDF; ``patient_copy`` (the portal's download) leaves out internal fields."""
    # Held here, the clinic summary_payload loads stays in the session's (weak) identity map.
    clinic = db.session.get(Clinic, summary.clinic_id)
    payload = summary_payload(summary, patient, visits)
    if patient_copy:
        for entry in payload["visits"]:
            for key in INTERNAL_SUMMARY_FIELDS:
                entry.pop(key, None)
    points = [PainPoint(v.visit_date, v.pain_before, v.pain_after) for v in visits]
    # A PNG, not the web page's SVG: WeasyPrint shapes and draws each SVG label itself
    # (~25 ms more CPU for 10 visits). The legend and every score are printed as text.
    return render_pdf(
        "pdf/summary.html",
        summary=summary,
        patient=patient,
        clinic=clinic,
        visits=visits,
        trend=_data_uri(pain_trend_png(points), "image/png"),
        trend_text=describe_pain_trend(points),
        issued_on=local_date(summary.created_at),
        qr=qr_data_uri(payload["verification"]["url"]),
        verify=payload["verification"],
        patient_copy=patient_copy,
        attachments=[
            PdfAttachment("summary.json", _json(payload), "The summary's data", summary.created_at)
        ],
    )


def summary_filename(summary: TreatmentSummary) -> str:
    return f"treatment-summary-{summary.date_from.isoformat()}-to-{summary.date_to.isoformat()}.pdf"


def print_summary(
    patient: Patient, first: date, last: date, *, actor: User | None, email: bool = False
) -> tuple[TreatmentSummary, bytes]:
    """Create, render and audit a treatment summary; with ``email`` also send it."""
    if email:
        _patient_with_email(patient)
    summary, visits = create_summary(patient, first, last, actor=actor)
    data = render_summary(summary, patient, visits)
    audit.record(
        Action.SUMMARY_EMAIL if email else Action.SUMMARY_PRINT, summary, actor=actor,
        patient=patient, period=[first.isoformat(), last.isoformat()], visits=summary.visit_ids,
    )  # fmt: skip
    if email:
        clinic = db.session.get(Clinic, patient.clinic_id)
        _send(
            patient,
            f"Your treatment summary from {clinic.name}",
            f"Attached is a summary of your treatment from {first.isoformat()} "
            f"to {last.isoformat()}.",
            summary_filename(summary),
            data,
            clinic.name,
        )
    return summary, data


# Year-end statements -------------------------------------------------------------------


@dataclass
class Statement:
    patient: Patient
    clinic: Clinic
    year: int
    receipts: list[Receipt]

    @property
    def totals(self) -> dict[str, int]:
        return {
            key: sum(getattr(r, f"{key}_cents") for r in self.receipts)
            for key in ("fee", "tax", "total", "paid")
        }


def statement_payload(statement: Statement) -> dict[str, Any]:
    return {
        "type": "year_end_statement",
        "year": statement.year,
        "clinic": {
            "name": statement.clinic.name,
            "business_number": statement.clinic.business_number,
        },
        "patient": {"full_name": statement.patient.full_name},
        "receipts": [
            {
                "receipt_number": r.number_label,
                "issued_on": local_date(r.issued_at).isoformat(),
                "service_date": r.service_date.isoformat(),
                "description": r.service_description,
                "therapist": f"{r.therapist_name}, {r.therapist_designation}",
                "registration_number": r.therapist_registration_number,
                "fee": _decimal(r.fee_cents),
                "tax": _decimal(r.tax_cents),
                "total": _decimal(r.total_cents),
                "payment_method": r.payment_label,
            }
            for r in statement.receipts
        ],
        "totals": {k: _decimal(v) for k, v in statement.totals.items()},
    }


def print_statement(
    patient: Patient, year: int, *, actor: User | None, email: bool = False
) -> bytes:
    """Render (and with ``email`` send) the patient's year-end statement; audit it."""
    from app.receipts.services import receipts_issued_in_year

    if email:
        _patient_with_email(patient)
    statement = Statement(
        patient, db.session.get(Clinic, patient.clinic_id), year,
        receipts_issued_in_year(patient, year),
    )  # fmt: skip
    if not statement.receipts:
        raise ReceiptRefused(f"{patient.full_name} has no receipts issued in {year}.")
    created = utcnow()
    data = render_pdf(
        "pdf/statement.html",
        statement=statement,
        issued_on=local_date(created),
        attachments=[
            PdfAttachment("statement.json", _json(statement_payload(statement)), "", created)
        ],
    )
    audit.record(
        Action.STATEMENT_EMAIL if email else Action.STATEMENT_PRINT, patient, actor=actor,
        year=year, receipts=[r.number for r in statement.receipts],
    )  # fmt: skip
    if email:
        _send(
            patient,
            f"Your {year} statement from {statement.clinic.name}",
            f"Attached is your statement of every receipt issued to you in {year}, with totals.",
            f"statement-{year}.pdf",
            data,
            statement.clinic.name,
        )
    return data


# Email -------------------------------------------------------------------------------


def _patient_with_email(patient: Patient) -> Patient:
    if not patient.email:
        raise ReceiptRefused(f"{patient.full_name} has no email address on file.")
    if not mail.configured():
        raise ReceiptRefused("Email is not set up for this clinic (see MAIL_SERVER).")
    return patient


def _send(
    patient: Patient, subject: str, intro: str, filename: str, data: bytes, clinic_name: str
) -> None:
    body = (
        f"Hello {patient.given_name},\n\n{intro}\n\n"
        f"The document carries a code you or your insurer can check online.\n\n{clinic_name}\n"
    )
    mail.send_mail(patient.email, subject, body, [(filename, data, "application/pdf")])
