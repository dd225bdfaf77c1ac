"""Bulk export for the accountant: a zip of receipt PDFs plus ``receipts.csv``.

Rendering is CPU-bound, so with ``workers > 1`` it runs in this process and in
``workers - 1`` worker processes at once. Each worker builds the app once (importing
WeasyPrint once) and renders many receipts; the parent passes receipt ids, never ORM
objects, renders its share and writes the zip.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import Receipt, User
from app.receipts.documents import receipt_filename, render_receipt
from app.receipts.services import local_date, utc_bounds

CSV_FIELDS = [
    "receipt_number", "status", "issued_on", "service_date", "start_time", "minutes",
    "patient", "therapist", "registration_number", "fee", "tax_name", "tax_rate_percent",
    "tax", "total", "payment_method", "fee_reason", "voided_on", "void_reason", "supersedes",
    "file",
]  # fmt: skip
# Config keys a worker needs to build the same app as the parent.
WORKER_CONFIG = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "PUBLIC_BASE_URL", "TIMEZONE", "TESTING")
CHUNK = 8

_worker_app: Flask | None = None


@dataclass
class ExportResult:
    count: int
    void: int
    receipt_ids: list[int]


def receipt_ids(clinic_id: int, first: date, last: date) -> list[int]:
    """Ids of the clinic's receipts issued on ``first``..``last`` (clinic calendar), by number."""
    start, end = utc_bounds(first, last)
    stmt = (
        select(Receipt.id)
        .where(Receipt.clinic_id == clinic_id, Receipt.issued_at >= start, Receipt.issued_at < end)
        .order_by(Receipt.number)
    )
    return list(db.session.scalars(stmt))


def _load(ids: list[int], *relations: Any) -> list[Receipt]:
    stmt = (
        select(Receipt)
        .where(Receipt.id.in_(ids))
        .options(selectinload(Receipt.void), *(selectinload(r) for r in relations))
        .order_by(Receipt.number)
    )
    return list(db.session.scalars(stmt))


def _csv_row(receipt: Receipt, filename: str) -> dict[str, Any]:
    void = receipt.void
    return {
        "receipt_number": receipt.number_label,
        "status": "VOID" if void else "issued",
        "issued_on": local_date(receipt.issued_at).isoformat(),
        "service_date": receipt.service_date.isoformat(),
        "start_time": receipt.service_start.strftime("%H:%M"),
        "minutes": receipt.duration_minutes,
        "patient": receipt.patient_name,
        "therapist": f"{receipt.therapist_name}, {receipt.therapist_designation}",
        "registration_number": receipt.therapist_registration_number,
        "fee": f"{receipt.fee_cents / 100:.2f}",
        "tax_name": receipt.tax_name,
        "tax_rate_percent": f"{receipt.tax_rate_bp / 100:g}",
        "tax": f"{receipt.tax_cents / 100:.2f}",
        "total": f"{receipt.total_cents / 100:.2f}",
        "payment_method": receipt.payment_label,
        "fee_reason": receipt.fee_reason,
        "voided_on": local_date(void.voided_at).isoformat() if void else "",
        "void_reason": void.reason if void else "",
        "supersedes": receipt.supersedes_id or "",
        "file": filename,
    }


def render_chunk(ids: list[int]) -> list[tuple[int, str, bytes, dict[str, Any]]]:
    """Render receipts ``ids`` in the current app: (id, filename, pdf, csv row) each."""
    out = []
    for receipt in _load(ids, Receipt.signature):
        name = receipt_filename(receipt)
        out.append((receipt.id, name, render_receipt(receipt), _csv_row(receipt, name)))
    return out


def _init_worker(config: dict[str, Any]) -> None:
    """Process-pool initializer: build the app once and keep its context for every task."""
    global _worker_app
    from app import create_app
    from app.pdf import warm_up

    _worker_app = create_app(config)
    _worker_app.app_context().push()
    warm_up()


def _worker_render(ids: list[int]) -> list[tuple[int, str, bytes, dict[str, Any]]]:
    try:
        return render_chunk(ids)
    finally:
        db.session.remove()  # keep a worker's identity map small between chunks


def _chunks(ids: list[int], size: int = CHUNK) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _rendered(ids: list[int], workers: int) -> Iterator[tuple[int, str, bytes, dict[str, Any]]]:
    """Every receipt rendered, in the order of ``ids``, by ``workers`` renderers: this
    process and ``workers - 1`` worker processes.

    This process renders too, from the first moment: a worker process needs ~1.4 s to
    start (a new interpreter importing the app and WeasyPrint), and the parent used to
    wait through it with both cores busy starting workers. Each renderer takes the next
    chunk in order (the pool is kept two chunks ahead per worker), so results arrive
    almost in order; this process stops taking chunks when ``held`` of them are waiting
    for an earlier one from a worker, so a slow worker never makes it hold many PDFs.
    """
    chunks = _chunks(ids, max(1, min(CHUNK, len(ids) // (workers * 4))))
    if workers <= 1 or len(chunks) < 2:
        for chunk in chunks:
            yield from render_chunk(chunk)
        return
    config = {key: current_app.config.get(key) for key in WORKER_CONFIG}
    context = multiprocessing.get_context("spawn")  # no inherited DB connections or locks
    pool = ProcessPoolExecutor(
        workers - 1, mp_context=context, initializer=_init_worker, initargs=(config,)
    )
    ahead = 2 * (workers - 1)
    held = ahead + 8  # chunks at most between the next to write and the next to take
    done: dict[int, list[tuple[int, str, bytes, dict[str, Any]]]] = {}
    running: dict[Future, int] = {}
    taken = written = 0
    try:
        while written < len(chunks):
            for future in [f for f in running if f.done()]:
                done[running.pop(future)] = future.result()
            while len(running) < ahead and taken < len(chunks):
                running[pool.submit(_worker_render, chunks[taken])] = taken
                taken += 1
            while written in done:
                yield from done.pop(written)
                written += 1
            if written == len(chunks):
                break
            if taken < len(chunks) and taken - written < held:
                done[taken] = render_chunk(chunks[taken])  # this process takes the next one
                taken += 1
            else:  # all taken, or far enough ahead of a slow worker: wait for the pool
                wait(running, return_when=FIRST_COMPLETED)
    finally:
        # Every result is in (or the export failed): the workers wind down on their own.
        # Waiting for their interpreters to finish tearing down took ~0.5 s per export.
        pool.shutdown(wait=False, cancel_futures=True)


def write_export(
    clinic_id: int,
    first: date,
    last: date,
    out: IO[bytes],
    *,
    workers: int = 1,
    actor: User | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the zip to ``out`` and audit every exported receipt (the caller commits)."""
    ids = receipt_ids(clinic_id, first, last)
    rows, void = [], 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for _, name, data, row in _rendered(ids, workers):
            archive.writestr(f"receipts/{name}", data)
            rows.append(row)
            void += row["status"] == "VOID"
            if progress:
                progress(1)
        text = io.StringIO()
        writer = csv.DictWriter(text, CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        archive.writestr("receipts.csv", text.getvalue())
    _audit(clinic_id, ids, first, last, actor, workers)
    return ExportResult(len(ids), void, ids)


def _audit(
    clinic_id: int, ids: list[int], first: date, last: date, actor: User | None, workers: int
) -> None:
    period = [first.isoformat(), last.isoformat()]
    audit.record(
        Action.RECEIPT_EXPORT, None, actor=actor, clinic_id=clinic_id, period=period,
        count=len(ids), workers=workers,
    )  # fmt: skip
    for receipt in _load(ids, Receipt.patient):
        audit.record(
            Action.RECEIPT_EXPORT, receipt, actor=actor, patient=receipt.patient,
            number=receipt.number, period=period,
        )  # fmt: skip
