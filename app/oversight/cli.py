"""``flask retention report`` and ``flask retention purge`` (R4)."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Clinic, Patient, Role, User
from app.oversight import retention
from app.visits.services import local_now


@click.group("retention")
def retention_group() -> None:
    """Records past their retention period (R4): report, and purge after review."""


def _today():
    return local_now(current_app.config["TIMEZONE"]).date()


@retention_group.command("report")
@click.option("--clinic", "clinic_id", type=int, help="Only this clinic (default: every clinic).")
def report_command(clinic_id: int | None) -> None:
    """List each clinic's patients past their retention end and not purged yet."""
    stmt = select(Clinic).order_by(Clinic.id)
    if clinic_id is not None:
        stmt = stmt.where(Clinic.id == clinic_id)
    today = _today()
    for clinic in db.session.scalars(stmt):
        due = retention.retention_due(clinic.id, clinic.retention_years, today, limit=None)
        click.echo(
            f"Clinic {clinic.id} {clinic.name}: {due.total} past retention "
            f"({clinic.retention_years} years) on {today.isoformat()}"
        )
        if due.rows:
            click.echo("  patient\tname\tlast visit\tretention end")
        for row in due.rows:
            last = row.last_visit.isoformat() if row.last_visit else "none"
            click.echo(f"  {row.patient_id}\t{row.name}\t{last}\t{row.retention_end.isoformat()}")


@retention_group.command("purge")
@click.option("--clinic", "clinic_id", type=int, required=True, help="The patient's clinic id.")
@click.option("--patient", "patient_id", type=int, required=True, help="The patient's number.")
@click.option("--by", "owner_email", required=True, help="Email of the owner who approves it.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_command(clinic_id: int, patient_id: int, owner_email: str, yes: bool) -> None:
    """Purge one patient's records after their retention end (audited in the owner's name)."""
    patient = db.session.scalar(
        select(Patient).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
    )
    if patient is None:
        raise click.BadParameter(f"no patient {patient_id} in clinic {clinic_id}", "--patient")
    owner = db.session.scalar(
        select(User).where(
            func.lower(User.email) == owner_email.lower(),
            User.clinic_id == clinic_id,
            User.role == Role.OWNER.value,
            User.active.is_(True),
        )
    )
    if owner is None:
        raise click.BadParameter(f"{owner_email} is not an active owner of that clinic", "--by")
    if not yes:
        click.confirm(f"Purge every clinical record of patient {patient.id}?", abort=True)
    try:
        years = owner.clinic.retention_years
        purge = retention.purge_patient(patient, owner, years, _today())
    except retention.PurgeRefused as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    removed = ", ".join(f"{n} {table}" for table, n in purge.counts.items() if n)
    click.echo(f"Patient {patient_id} purged by {owner.email}: {removed or 'no clinical rows'}.")


@click.group("compliance")
def compliance_group() -> None:
    """The compliance dashboard's findings (B7, R4): the nightly full check."""


@compliance_group.command("check")
@click.option("--clinic", "clinic_id", type=int, help="Only this clinic (default: every clinic).")
def check_command(clinic_id: int | None) -> None:
    """Re-check every rule over each clinic's whole history (run nightly from cron)."""
    from app import audit
    from app.audit import Action
    from app.oversight import flags

    stmt = select(Clinic).order_by(Clinic.id)
    if clinic_id is not None:
        stmt = stmt.where(Clinic.id == clinic_id)
    for clinic in db.session.scalars(stmt).all():
        repaired = flags.full_check(clinic.id)
        audit.record(
            Action.COMPLIANCE_CHECK, clinic, clinic_id=clinic.id, repaired=repaired, via="cli"
        )
        db.session.commit()
        click.echo(
            f"Clinic {clinic.id} {clinic.name}: "
            + (f"{repaired} findings corrected" if repaired else "findings up to date")
        )
