"""Command-line tools: ``flask --app app <command>``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import Clinic, Role, User
from app.security import MIN_PASSWORD_LENGTH, hash_password


@click.command("init")
def init_command() -> None:
    """Create the instance folder and secret key, and create or upgrade the database."""
    upgrade()
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"Instance folder: {current_app.instance_path}")


@click.group("clinics")
def clinics_group() -> None:
    """Create and list clinics."""


@clinics_group.command("create")
@click.argument("name")
@click.option("--address", default="", help="Street address printed on receipts.")
@click.option("--phone", default="", help="Phone number printed on receipts.")
def clinics_create(name: str, address: str, phone: str) -> None:
    """Create a clinic and print its id."""
    clinic = Clinic(name=name, address=address, phone=phone)
    db.session.add(clinic)
    db.session.flush()
    audit.record(Action.CLINIC_CREATE, clinic, via="cli")
    db.session.commit()
    click.echo(f"Clinic {clinic.id} created: {clinic.name}")


@clinics_group.command("list")
def clinics_list() -> None:
    """List clinics with their ids."""
    for clinic in db.session.scalars(select(Clinic).order_by(Clinic.id)):
        click.echo(f"{clinic.id}\t{clinic.name}")


@click.group("users")
def users_group() -> None:
    """Create staff accounts from the command line."""


@users_group.command("create")
@click.option(
    "--clinic", "clinic_id", type=int, required=True, help="Clinic id (see `clinics list`)."
)
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True, help="Full name as printed on records.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role if r is not Role.PATIENT]),
    default=Role.OWNER.value,
    show_default=True,
)
@click.password_option(help=f"At least {MIN_PASSWORD_LENGTH} characters (prompted if omitted).")
def users_create(clinic_id: int, email: str, full_name: str, role: str, password: str) -> None:
    """Create a staff account, e.g. the first owner of a new clinic."""
    if db.session.get(Clinic, clinic_id) is None:
        raise click.BadParameter(f"no clinic with id {clinic_id}", param_hint="--clinic")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="password"
        )
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email.lower())):
        raise click.BadParameter(f"{email} already has an account", param_hint="--email")
    user = User(
        clinic_id=clinic_id, email=email.lower(), full_name=full_name, role=role,
        password_hash=hash_password(password),
    )  # fmt: skip
    db.session.add(user)
    db.session.flush()
    audit.record(Action.USER_CREATE, user, role=role, via="cli")
    db.session.commit()
    click.echo(f"User {user.id} created: {user.email} ({role})")


@click.group("audit")
def audit_group() -> None:
    """Check the tamper-evident audit log."""


@audit_group.command("verify")
@click.option("--clinic", "clinic_id", type=int, help="Only this clinic's chain.")
def audit_verify(clinic_id: int | None) -> None:
    """Walk each clinic's audit chain; exit 1 at the first changed, removed or inserted event."""
    from app import audit_chain

    chain_ids = [clinic_id] if clinic_id is not None else audit_chain.chains(db.session())
    broken = 0
    for chain_id in chain_ids:
        report = audit.verify_chain(chain_id)
        label = f"clinic {chain_id}" if chain_id else "events of no clinic"
        if report.ok:
            click.echo(f"{label}: intact, {report.events} events, head {report.head_hash[:16]}")
        else:
            broken += 1
            where = f" at event #{report.first_bad_id}" if report.first_bad_id else ""
            click.echo(f"{label}: BROKEN{where}", err=True)
            for problem in report.problems:
                click.echo(f"  {problem}", err=True)
    db.session.commit()
    if broken:
        raise SystemExit(1)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when data already exists.")
def demo_command(if_empty: bool) -> None:
    """Load the demo clinic (refused when the database already holds a clinic)."""
    from app.demo import load_demo

    if db.session.scalar(select(func.count()).select_from(Clinic)):
        if if_empty:
            click.echo("Data already present; demo not loaded.")
            return
        raise click.ClickException(
            "the database already holds clinics; the demo loads only into an empty one"
        )
    clinic = load_demo()
    db.session.commit()
    click.echo(f"Demo clinic loaded: {clinic.name}. Sign in as owner@demo.test / stillpoint-demo")


def init_app(app: Flask) -> None:
    from app.protocols.cli import protocols_group
    from app.receipts.cli import receipts_group

    for command in (init_command, clinics_group, users_group, demo_command, protocols_group):
        app.cli.add_command(command)
    for command in (audit_group,):
        app.cli.add_command(command)
    app.cli.add_command(receipts_group)
    from app.oversight.cli import compliance_group, retention_group

    app.cli.add_command(retention_group)
    app.cli.add_command(compliance_group)
    from app.bench import bench_group

    app.cli.add_command(bench_group)
