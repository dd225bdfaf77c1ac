"""Shared pieces of the benchmarks: results, timing, apps, databases and sign-in."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "benchmark-secret-key-not-for-production"  # noqa: S105
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Figure:
    """One measured figure: what, on which data, how much, against which target."""

    figure: str
    measured: float | None
    unit: str
    target: str = ""
    passed: bool | None = None
    backend: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def app_config(url: str) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": SECRET,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "SIGNIN_RATE_LIMIT": "1000 per minute",
        "PUBLIC_BASE_URL": "https://clinic.example",
    }


def make_app(url: str) -> Flask:
    from app import create_app

    return create_app(app_config(url))


@contextmanager
def counting(engine: Any) -> Iterator[list[str]]:
    """Collect every SQL statement sent through ``engine`` while the block runs."""
    statements: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


# -- databases ------------------------------------------------------------------------------


@dataclass
class Database:
    backend: str
    visits: int
    url: str
    name: str = ""

    def drop(self) -> None:
        if self.backend == "postgresql":
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            path = Path(make_url(self.url).database or "")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def new_database(backend: str, visits: int) -> Database:
    """An empty database for one dataset: a file under benchmarks/.data or a PG database."""
    tag = uuid.uuid4().hex[:8]
    if backend == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        path = DATA / f"bench-{visits}-{tag}.db"
        return Database(backend, visits, f"sqlite:///{path}")
    name = f"stillpoint_bench_{visits}_{tag}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    return Database(backend, visits, url.render_as_string(hide_password=False), name)


def pg_available() -> bool:
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def clean_data_dir() -> None:
    if DATA.is_dir():
        shutil.rmtree(DATA, ignore_errors=True)


# -- signing in -----------------------------------------------------------------------------


def signed_in_client(app: Flask, email: str) -> Any:
    """A Flask test client signed in as ``email`` (bench password)."""
    from app.bench.seed import BENCH_PASSWORD

    client = app.test_client()
    page = client.get("/signin").get_data(as_text=True)
    token = CSRF_RE.search(page)
    assert token, "no CSRF token on the sign-in page"
    response = client.post(
        "/signin", data={"email": email, "password": BENCH_PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 302, f"sign-in failed for {email}: {response.status_code}"
    return client
