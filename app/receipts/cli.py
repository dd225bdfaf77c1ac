"""``flask receipts export``: the accountant's zip of receipt PDFs plus a CSV."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select

from app.extensions import db
from app.models import Clinic
from app.receipts.export import receipt_ids, write_export


@click.group("receipts")
def receipts_group() -> None:
    """Receipts: bulk export for the accountant."""


def _clinic_id(clinic_id: int | None) -> int:
    ids = list(db.session.scalars(select(Clinic.id).order_by(Clinic.id)))
    if clinic_id is None:
        if len(ids) != 1:
            raise click.BadParameter("name the clinic (see `clinics list`)", param_hint="--clinic")
        return ids[0]
    if clinic_id not in ids:
        raise click.BadParameter(f"no clinic with id {clinic_id}", param_hint="--clinic")
    return clinic_id


@receipts_group.command("export")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--clinic", "clinic_id", type=int, help="Clinic id; needed when there are several.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Zip file to write.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=lambda: min(4, os.cpu_count() or 1),
    show_default="number of CPUs, at most 4",
    help="Processes rendering PDFs in parallel (this one included).",
)
def export_command(
    date_from: datetime, date_to: datetime, clinic_id: int | None, out: Path | None, workers: int
) -> None:
    """Write the receipts issued FROM..TO (inclusive) as PDFs plus receipts.csv in a zip."""
    first, last = date_from.date(), date_to.date()
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    clinic = _clinic_id(clinic_id)
    out = out or Path(f"receipts-{first.isoformat()}-to-{last.isoformat()}.zip")
    total = len(receipt_ids(clinic, first, last))
    started = time.perf_counter()
    with (
        out.open("wb") as fh,
        click.progressbar(length=total, label="Rendering receipts", show_pos=True) as bar,
    ):
        result = write_export(clinic, first, last, fh, workers=workers, progress=bar.update)
    db.session.commit()
    seconds = time.perf_counter() - started
    click.echo(
        f"Wrote {result.count} receipts ({result.void} void) to {out} "
        f"in {seconds:.1f} s with {workers} worker{'s' if workers > 1 else ''}."
    )
