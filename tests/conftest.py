"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

Both schemas are built by the real migrations once per run. SQLite tests get a
copy of a migrated template file; PostgreSQL tests share one uniquely named
database created for this run (and dropped after), truncated between tests.

PostgreSQL is found at STILLPOINT_TEST_PG_URL (default: the local server,
trust auth). Locally, if it is not reachable, its tests skip with the reason;
with CI=true they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import Role
from tests import factories as f

IN_CI = os.environ.get("CI") == "true"
PG_ADMIN_URL = os.environ.get(
    "STILLPOINT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


def base_config(url: str, tmp: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "CLINIC_PROTOCOLS_DIR": str(tmp / "clinic-protocols"),
    }


def _migrate(url: str, tmp: Path) -> None:
    app = create_app(base_config(url, tmp))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the backend variants a test opted out of (no skip noise)."""
    keep = []
    for item in items:
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("backend")
        if backend == "postgresql" and item.get_closest_marker("sqlite_only"):
            continue
        if backend == "sqlite" and item.get_closest_marker("postgresql_only"):
            continue
        keep.append(item)
    items[:] = keep


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sqlite-template")
    path = tmp / "template.db"
    _migrate(f"sqlite:///{path}", tmp)
    return path


@pytest.fixture(scope="session")
def pg_server() -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = (
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({str(exc).strip()}). "
            "Start it or set STILLPOINT_TEST_PG_URL to run the PostgreSQL half of the suite."
        )
        if IN_CI:
            pytest.fail(message + " CI=true: PostgreSQL tests are required.")
        pytest.skip(message)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def pg_database(
    pg_server: psycopg.Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    name = f"stillpoint_test_{uuid.uuid4().hex[:12]}"
    pg_server.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    url_text = url.render_as_string(hide_password=False)
    try:
        _migrate(url_text, tmp_path_factory.mktemp("pg"))
        yield url_text
    finally:
        pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str) -> None:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(base_config(database_url, tmp_path))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Client:
    """A test client that signs in and sends CSRF tokens like a browser would."""

    def __init__(self, flask_client: FlaskClient) -> None:
        self.http = flask_client
        self._token: str | None = None

    # Each request runs in a fresh app context, as in production: the test's own
    # context (and its db.session and ``g``) is never shared with the request.
    def get(self, url: str, **kw: Any):
        with self.http.application.app_context():
            response = self.http.get(url, **kw)
        self._remember_token(response)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any):
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            data["csrf_token"] = self.csrf_token()
        with self.http.application.app_context():
            response = self.http.post(url, data=data, **kw)
        self._remember_token(response)
        return response

    def csrf_token(self) -> str:
        if self._token is None:
            self.get("/signin", follow_redirects=True)
        assert self._token, "no CSRF token found on the sign-in or home page"
        return self._token

    def _remember_token(self, response: Any) -> None:
        if response.mimetype == "text/html" and (
            m := CSRF_RE.search(response.get_data(as_text=True))
        ):
            self._token = m.group(1)

    def signin(self, email: str, password: str = f.PASSWORD, path: str = "/signin"):
        response = self.post(path, {"email": email, "password": password})
        self._token = None  # the session was renewed
        return response


@pytest.fixture
def client(app: Flask) -> Client:
    return Client(app.test_client())


@dataclass
class World:
    """Two clinics with a full staff each; the tests act from clinic A."""

    clinic: Any
    owner: Any
    therapist: Any
    therapist2: Any
    desk: Any
    portal_user: Any
    patient: Any
    location: Any
    other_clinic: Any
    other_owner: Any
    other_therapist: Any
    other_patient: Any
    other_location: Any

    def user(self, role: str) -> Any:
        return {
            "owner": self.owner,
            "therapist": self.therapist,
            "front_desk": self.desk,
            "patient": self.portal_user,
        }[role]


@pytest.fixture
def world(app: Flask) -> World:
    clinic = f.make_clinic()
    owner = f.make_user(clinic, Role.OWNER, full_name="Olivia Owner")
    therapist = f.make_user(clinic, Role.THERAPIST, full_name="Theo Therapist")
    patient = f.make_patient(clinic, given_name="Ada", family_name="Lovelace")
    f.make_history(patient, therapist, ["anticoagulants"], medications="Warfarin")
    other = f.make_clinic("Elsewhere Wellness")
    other_therapist = f.make_user(other, Role.THERAPIST)
    other_patient = f.make_patient(other, given_name="Ada", family_name="Otherclinic")
    f.make_history(other_patient, other_therapist, ["pregnancy"])
    w = World(
        clinic=clinic,
        owner=owner,
        therapist=therapist,
        therapist2=f.make_user(clinic, Role.THERAPIST, full_name="Tess Second"),
        desk=f.make_user(clinic, Role.FRONT_DESK, full_name="Dana Desk"),
        portal_user=f.make_user(
            clinic, Role.PATIENT, full_name="Ada Lovelace", patient_id=patient.id
        ),
        patient=patient,
        location=f.make_location(clinic),
        other_clinic=other,
        other_owner=f.make_user(other, Role.OWNER),
        other_therapist=other_therapist,
        other_patient=other_patient,
        other_location=f.make_location(other, "Far away"),
    )
    db.session.commit()
    return w


@pytest.fixture
def login_as(app: Flask, world: World):
    """``login_as("therapist")`` returns a signed-in Client for that role in clinic A."""

    def _login(role: str) -> Client:
        c = Client(app.test_client())
        # Patients sign in at the portal; the staff sign-in refuses their accounts.
        response = c.signin(
            world.user(role).email, path="/portal/signin" if role == "patient" else "/signin"
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return c

    return _login
