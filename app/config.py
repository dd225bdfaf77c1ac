"""Configuration in layers: these defaults, then ``instance/config.py``, then
``STILLPOINT_*`` environment variables (and ``DATABASE_URL``), then the mapping
passed to ``create_app`` (tests).

Nothing secret lives here. ``SECRET_KEY`` is generated into
``instance/secret_key`` on first start when no layer provides one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # Database: SQLite in instance/ unless DATABASE_URL says otherwise.
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Sessions and cookies: secure by default. `make run` serves plain HTTP on
    # loopback and turns SESSION_COOKIE_SECURE off for that one case.
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    # Sign-in throttling (Flask-Limiter). Use a redis:// URL with several workers.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "SIGNIN_RATE_LIMIT": "10 per minute;50 per hour",
    # Uploads
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "SIGNATURE_MAX_BYTES": 512 * 1024,
    # Protocol library: shipped protocols, plus a clinic's own in instance/protocols.
    "PROTOCOLS_DIR": None,
    "CLINIC_PROTOCOLS_DIR": None,
    # Paging
    "PAGE_SIZE": 25,
    # Rendered patient charts (the record part) kept per worker (0 = off);
    # a few tens of kB each. app/patients/chart_cache.py.
    "CHART_CACHE_SIZE": 512,
    # Audit log (R5), PostgreSQL: a page that only read commits its audit entry without
    # waiting for the disk flush (PostgreSQL flushes it within a fraction of a second).
    # True: wait, as every change does. docs/audit.md says what each choice risks.
    "VIEW_AUDIT_SYNC_COMMIT": False,
    # The clinic's time zone: visit times are wall-clock times there.
    "TIMEZONE": "America/Toronto",
    # Trust X-Forwarded-* from this many proxies (set 1 behind nginx).
    "PROXY_FIX_HOPS": 0,
    # Receipts and documents. The QR code on every receipt and summary links to
    # PUBLIC_BASE_URL + /verify/<code>; set it to the address patients and insurers
    # reach (e.g. https://clinic.example). Unset: the address of the current request.
    "PUBLIC_BASE_URL": None,
    "VERIFY_RATE_LIMIT": "20 per minute;200 per hour",
    # Outgoing mail (receipts, summaries and statements sent to patients).
    # No MAIL_SERVER: sending is switched off and the buttons say so.
    "MAIL_SERVER": None,
    "MAIL_PORT": 587,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,  # set it in instance/config.py or STILLPOINT_MAIL_PASSWORD
    "MAIL_USE_TLS": True,  # STARTTLS after connecting
    "MAIL_FROM": None,  # e.g. "Harbour Massage Therapy <front@harbour.example>"
    "MAIL_TIMEOUT": 20,
    # Patient portal: how long an emailed invitation link works.
    "PORTAL_INVITE_TTL_HOURS": 72,
}


def database_url_from_env() -> str | None:
    """Return DATABASE_URL normalised for SQLAlchemy + psycopg 3, or None."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Apply every configuration layer to ``app.config`` in order."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("STILLPOINT")
    if url := database_url_from_env():
        app.config["SQLALCHEMY_DATABASE_URI"] = url
    if test_config:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'stillpoint.db'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)
    root = Path(app.root_path).parent
    app.config["PROTOCOLS_DIR"] = app.config["PROTOCOLS_DIR"] or str(root / "protocols")
    app.config["CLINIC_PROTOCOLS_DIR"] = app.config["CLINIC_PROTOCOLS_DIR"] or str(
        instance / "protocols"
    )


def _instance_secret(instance: Path) -> str:
    """Read the secret key from instance/secret_key, creating it on first start."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()
