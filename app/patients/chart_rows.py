"""The patient chart's two long tables, visits and receipts, rendered in Python.

The chart is the most viewed page, and these rows were about half of its template time.
Jinja spends a few microseconds on every expression of a row (a generator step, an
attribute lookup, an escape), fourteen or so per row; one f-string per row costs a
fraction of that (docs/performance.md). The tables' headings stay in the templates.

Every value that can hold text a person typed goes through ``escape``; numbers, dates and
the app's own labels are formatted here. ``tests/test_chart_rows.py`` renders hostile
names and complaints to keep it so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import url_for
from markupsafe import Markup, escape

from app.receipts.services import money

if TYPE_CHECKING:
    from app.patients.services import ReceiptLine
    from app.visits.services import VisitLine

_ID = 2147483647  # a placeholder id: the link is built once per table, not once per row
COMPLAINT_SHOWN = 60  # characters of the chief complaint in the list (more in the visit)


def _link(endpoint: str, key: str) -> tuple[str, str]:
    prefix, _, suffix = url_for(endpoint, **{key: _ID}).partition(str(_ID))
    return str(escape(prefix)), str(escape(suffix))


def shorten(text: str, length: int = COMPLAINT_SHOWN, leeway: int = 5) -> str:
    """``text`` cut at a word boundary near ``length`` characters, as Jinja's ``truncate``:
    left whole when at most ``leeway`` characters over, else cut and ended with "..."."""
    if len(text) <= length + leeway:
        return text
    return text[: length - 3].rsplit(" ", 1)[0] + "..."


def _attendance(visit: VisitLine) -> str:
    if visit.attendance != "attended":
        return str(escape(visit.attendance.replace("_", "-").capitalize()))
    return "Signed" if visit.is_signed else '<span class="draft">Draft</span>'


def _pain(score: int | None) -> str:
    return "–" if score is None else str(score)


def visit_rows(visits: Iterable[VisitLine], clinical: bool) -> Markup:
    """The ``<tr>`` rows of the chart's visit list; dates link to the visit for clinical
    roles, who also see the chief complaint and the pain scores."""
    prefix, suffix = _link("visits.show", "visit_id")
    rows = []
    for v in visits:
        day = v.local_start.date().isoformat()
        when = f'<a href="{prefix}{v.id}{suffix}">{day}</a>' if clinical else day
        row = (
            f"<tr><td>{when}</td><td>{v.start_label} · {v.duration_minutes} min</td>"
            f"<td>{escape(v.therapist_name)}</td><td>{_attendance(v)}</td>"
        )
        if clinical:
            row += (
                f"<td>{escape(shorten(v.chief_complaint or ''))}</td>"
                f"<td>{_pain(v.pain_before)} → {_pain(v.pain_after)}</td>"
            )
        rows.append(row + "</tr>")
    return Markup("\n".join(rows))  # noqa: S704 - typed text escaped above, the rest numbers


def _status(receipt: ReceiptLine) -> str:
    if receipt.is_void:
        return '<span class="badge void">Void</span>'
    copies = receipt.reissue_count
    if not copies:
        return "Issued"
    return f"Issued · {copies} duplicate{'s' if copies > 1 else ''}"


_VOID_ROW = '<tr class="inactive">'


def receipt_rows(receipts: Iterable[ReceiptLine]) -> Markup:
    """The ``<tr>`` rows of the chart's receipt list, voided receipts greyed out."""
    prefix, suffix = _link("receipts.show", "receipt_id")
    rows = []
    for r in receipts:
        rows.append(
            (_VOID_ROW if r.is_void else "<tr>")
            + f'<td><a href="{prefix}{r.id}{suffix}">{r.number:06d}</a></td>'
            f"<td>{r.service_date.isoformat()} {r.start_label}</td>"
            f"<td>{escape(r.therapist_name)}, {escape(r.therapist_designation)}</td>"
            f'<td class="num">{money(r.total_cents)}</td>'
            f"<td>{escape(r.payment_label)}</td><td>{_status(r)}</td></tr>"
        )
    return Markup("\n".join(rows))  # noqa: S704 - typed text escaped above, the rest numbers
