"""Installation: migrations, configuration layers, CLI commands, error handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent, Clinic, HealthHistory, Patient, Receipt, Role, User, Visit
from app.security import verify_password

REPO = Path(__file__).resolve().parents[1]


def test_migrations_build_exactly_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


@pytest.mark.sqlite_only
def test_sqlite_enforces_foreign_keys_and_uses_wal(app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_demo_loads_once_with_the_documented_accounts(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    clinic = db.session.scalar(select(Clinic))
    assert clinic.name == "Demo Massage Therapy" and len(clinic.locations) == 2
    users = {u.email: u for u in db.session.scalars(select(User))}
    assert set(users) == {
        "owner@demo.test", "rmt@demo.test", "rmt2@demo.test", "desk@demo.test", "patient@demo.test"
    }  # fmt: skip
    portal = users["patient@demo.test"]
    assert portal.role == Role.PATIENT
    assert db.session.get(Patient, portal.patient_id).given_name == "Sofia"
    receipts = list(db.session.scalars(select(Receipt).order_by(Receipt.id)))
    assert [r.visit.status for r in receipts] == ["signed"] * 4
    assert [r.number for r in receipts] == [1, 2, 3, 4]
    drafts = db.session.scalars(select(Visit).where(Visit.status == "draft")).all()
    assert len(drafts) == 1  # an overdue note for the home page and the compliance dashboard
    assert all(verify_password(u.password_hash, "stillpoint-demo") for u in users.values())
    assert (
        users["rmt@demo.test"].registration_number and users["rmt@demo.test"].role == Role.THERAPIST
    )
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 12
    conditions = [c for h in db.session.scalars(select(HealthHistory)) for c in h.conditions]
    assert "anticoagulants" in conditions and "recent_head_trauma" in conditions
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 1 and "already holds clinics" in again.output
    assert runner.invoke(args=["demo", "--if-empty"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(Clinic)) == 1


def test_cli_creates_clinic_and_owner(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["clinics", "create", "Lakeside RMT", "--phone", "705-555-0101"])
    assert result.exit_code == 0, result.output
    clinic = db.session.scalar(select(Clinic).where(Clinic.name == "Lakeside RMT"))
    args = [
        "users",
        "create",
        "--clinic",
        str(clinic.id),
        "--email",
        "Boss@Lakeside.test",
        "--name",
        "Bo Boss",
    ]
    short = runner.invoke(args=[*args, "--password", "short"])
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    ok = runner.invoke(args=[*args, "--password", "a long enough password"])
    assert ok.exit_code == 0, ok.output
    user = db.session.scalar(select(User).where(User.email == "boss@lakeside.test"))
    assert user.role == "owner" and user.clinic_id == clinic.id
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"clinic:create", "user:create"} <= actions
    assert runner.invoke(args=[*args, "--password", "a long enough password"]).exit_code == 2


def test_a_crash_rolls_back_everything_in_the_request(app, world, login_as):
    @app.get("/boom")
    def boom():
        patient = db.session.get(Patient, world.patient.id)
        patient.given_name = "Changed"
        db.session.add(AuditEvent(action="patient:update", clinic_id=world.clinic.id))
        db.session.flush()
        raise RuntimeError("simulated failure")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    c = login_as("therapist")
    response = c.get("/boom")
    assert response.status_code == 500
    assert "Nothing you entered was saved" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Patient, world.patient.id).given_name == "Ada"
    assert (
        db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient:update")) is None
    )


def test_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "does not exist here" in response.get_data(as_text=True)


def test_config_layers_and_generated_secret(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("PAGE_SIZE = 40\nSIGNIN_RATE_LIMIT = '3 per minute'\n")
    monkeypatch.setenv("STILLPOINT_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("STILLPOINT_SIGNIN_RATE_LIMIT", "5 per minute")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/clinic")
    app = create_app()
    assert app.config["PAGE_SIZE"] == 40  # instance/config.py
    assert app.config["SIGNIN_RATE_LIMIT"] == "5 per minute"  # environment beats the file
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example:5432/clinic"
    )
    secret = (instance / "secret_key").read_text()
    assert len(secret) == 64 and app.config["SECRET_KEY"] == secret
    assert (instance / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert (
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"] == secret
    )  # stable
    monkeypatch.delenv("DATABASE_URL")
    assert (
        create_app().config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'stillpoint.db'}"
    )


def test_flask_help_lists_every_command_with_a_description():
    env = {
        "PATH": str(Path(sys.executable).parent),
        "STILLPOINT_SQLALCHEMY_DATABASE_URI": "sqlite://",
    }
    env["STILLPOINT_SECRET_KEY"] = "x"
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "--help"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    commands = out.split("Commands:")[1]
    for name in ("init", "demo", "users", "clinics", "db", "run", "shell", "routes"):
        line = next(
            (line for line in commands.splitlines() if line.strip().startswith(name + " ")), ""
        )
        assert len(line.split(None, 1)) == 2, (
            f"`flask {name}` has no one-line description: {line!r}"
        )
