"""Pages at two data sizes: SQL statements per request and server time per request.

Both datasets are served by apps in this process and measured alternately (one
request on the small one, one on the large one), so a burst of load from
elsewhere on the machine hits both sides alike. Server time is the wall-clock
time of a test-client request: routing, queries, template, audit write, commit.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as dtime
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from benchmarks.common import Figure, counting, make_app, signed_in_client

STATEMENT_TARGET = "equal at both sizes"
# The chart with its record read and rendered afresh, as on the first view
# after a change: the worker's chart cache (app/patients/chart_cache.py) is emptied
# before each of these requests, outside the timing. "chart (patient page)" is a repeat view.
COLD_CHART = "chart, first view after a change"
TIME_TARGET = 1.2


@dataclass
class Site:
    """One seeded dataset opened in an app, with the records the pages are shown for."""

    app: Flask
    visits: int
    urls: dict[str, str]
    therapist_email: str
    owner_email: str
    clients: dict[str, Any]


def prepare(url: str, visits: int) -> Site:
    """Pick a typical patient of clinic 1 and open a draft visit for the visit form."""
    from app.extensions import db
    from app.models import AppliedProtocol, AuditEvent, Patient, User, Visit
    from app.protocols import get_library
    from app.visits import services

    app = make_app(url)
    with app.app_context():
        # A typical patient (visits closest to the average), so both datasets
        # show about as many rows: the comparison is about scale, not volume.
        per_patient = visits // db.session.scalar(select(func.count()).select_from(Patient))
        patient_id, _count = db.session.execute(
            select(Visit.patient_id, func.count())
            .where(Visit.clinic_id == 1)
            .group_by(Visit.patient_id)
            .order_by(func.abs(func.count() - per_patient), Visit.patient_id)
            .limit(1)
        ).one()
        patient = db.session.get(Patient, patient_id)
        latest = db.session.scalar(
            select(Visit)
            .where(Visit.patient_id == patient_id)
            .order_by(Visit.local_start.desc())
            .limit(1)
        )
        therapist = db.session.get(User, latest.therapist_id)
        owner = db.session.scalar(select(User).where(User.clinic_id == 1, User.role == "owner"))
        draft = db.session.scalar(
            select(Visit).where(Visit.patient_id == patient_id, Visit.status == "draft")
        )
        for days in range(1, 60):  # the first free morning of this therapist
            if draft is not None:
                break
            try:
                draft = services.start_visit(
                    patient,
                    therapist,
                    {
                        "visit_date": date.today() + timedelta(days=days),
                        "start_time": dtime(10, 0),
                        "duration_minutes": 60,
                        "location_id": None,
                    },
                )
            except services.Overlap:
                continue
        if not draft.applied:
            shown = [p for p in get_library() if not p.sensitive_area][:2]
            for position, protocol in enumerate(shown):
                draft.applied.append(
                    AppliedProtocol(
                        position=position, protocol_id=protocol.id,
                        content_version=protocol.content_version, title=protocol.title,
                        category=protocol.category, added_by_id=therapist.id,
                    )
                )  # fmt: skip
            db.session.commit()
        ids = list(
            db.session.scalars(
                select(AuditEvent.id).where(AuditEvent.clinic_id == 1).order_by(AuditEvent.id)
            )
        )
        deep = ids[len(ids) // 2]
        # A family name few patients share, so both datasets list a handful of
        # results: the comparison is about the index, not about longer lists.
        rare = db.session.scalar(
            select(Patient.family_name)
            .where(Patient.clinic_id == 1)
            .group_by(Patient.family_name)
            .order_by(func.count(), Patient.family_name)
            .limit(1)
        )
        urls = {
            "patient list": "/patients/",
            "patient search by name": f"/patients/?q={rare}",
            "patient search by phone": f"/patients/?q={patient.phone}",
            "chart (patient page)": f"/patients/{patient_id}",
            COLD_CHART: f"/patients/{patient_id}",
            "visit show": f"/visits/{latest.id}",
            "visit form": f"/visits/{draft.id}/edit",
            "protocol search": "/protocols/?q=neck+pain",
            "audit log": "/admin/audit",
            "audit log, deep page": f"/admin/audit?before={deep}",
        }
        if "oversight.dashboard" in app.view_functions:
            urls["compliance dashboard"] = "/admin/compliance/"
        site = Site(app, visits, urls, therapist.email, owner.email, {})
        db.session.remove()
    site.clients["therapist"] = signed_in_client(app, site.therapist_email)
    site.clients["owner"] = signed_in_client(app, site.owner_email)
    return site


def _client_for(site: Site, page: str) -> Any:
    owner_pages = ("audit log", "compliance dashboard")
    return site.clients["owner" if page.startswith(owner_pages) else "therapist"]


def _request(site: Site, page: str) -> tuple[float, list[str]]:
    from app.extensions import db

    client = _client_for(site, page)
    with site.app.app_context():
        engine = db.engine
    if page == COLD_CHART:
        from app.patients.chart_cache import record_cache

        record_cache(site.app).clear()
    with counting(engine) as statements:
        start = time.perf_counter()
        response = client.get(site.urls[page])
        elapsed = time.perf_counter() - start
    assert response.status_code == 200, f"{page}: HTTP {response.status_code}"
    return elapsed, statements


def measure(small: Site, large: Site, backend: str, repeat: int = 15) -> list[Figure]:
    """Statements and server time of every page on both datasets."""
    figures = []
    for page in small.urls:
        if page not in large.urls:
            continue
        for site in (small, large):  # warm caches, compile templates
            _request(site, page)
            _request(site, page)
        times: dict[int, list[float]] = {small.visits: [], large.visits: []}
        counts: dict[int, int] = {}
        samples: dict[int, list[str]] = {}
        for _ in range(repeat):
            for site in (small, large):
                elapsed, statements = _request(site, page)
                times[site.visits].append(elapsed)
                counts[site.visits] = len(statements)
                samples[site.visits] = statements
        n_small, n_large = counts[small.visits], counts[large.visits]
        figures.append(
            Figure(
                f"SQL statements: {page}", n_large, "statements", STATEMENT_TARGET,
                n_small == n_large, backend,
                {"small": n_small, "large": n_large, "sizes": [small.visits, large.visits]},
            )
        )  # fmt: skip
        t_small = statistics.median(times[small.visits]) * 1000
        t_large = statistics.median(times[large.visits]) * 1000
        ratio = t_large / t_small
        figures.append(
            Figure(
                f"server time: {page}", round(ratio, 2), "× (large/small)", f"≤ {TIME_TARGET}×",
                ratio <= TIME_TARGET, backend,
                {"small_ms": round(t_small, 2), "large_ms": round(t_large, 2),
                 "sizes": [small.visits, large.visits]},
            )
        )  # fmt: skip
    return figures


def statements_of(site: Site, page: str) -> list[str]:
    """The statements of one request (for profiling a page by hand)."""
    return _request(site, page)[1]
