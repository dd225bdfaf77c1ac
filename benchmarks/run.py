"""Run every benchmark, print one table, write the same figures as JSON.

    python -m benchmarks.run --visits 100000 --json benchmarks/results.json

Datasets are seeded fresh for each run (SQLite files under benchmarks/.data,
uniquely named PostgreSQL databases) and removed afterwards unless --keep.
Benchmarks are not tests: nothing here fails a build; the table says which
targets are met.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from benchmarks.common import Database, Figure, make_app, new_database, pg_available

SEED_TARGET_S = 600  # a million visits in minutes: at most 10 per million


def _settle(engine: Any) -> None:
    """Let the database settle after the bulk load, outside the seeding time, as pgbench
    vacuums before each run: on PostgreSQL ``VACUUM`` (hint bits and visibility map set
    now, so autovacuum does not start on the loaded tables during the measurements) and a
    ``CHECKPOINT`` (the load's dirty pages written now); on SQLite a WAL checkpoint."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            with contextlib.suppress(DBAPIError):  # needs superuser or pg_checkpoint
                conn.exec_driver_sql("CHECKPOINT")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _seed(db_: Database, clinics: int | None = None) -> Figure:
    from flask_migrate import upgrade

    from app.bench.seed import seed
    from app.extensions import db

    print(f"- seeding {db_.visits:,} visits on {db_.backend}", file=sys.stderr, flush=True)
    app = make_app(db_.url)
    with app.app_context():
        upgrade()
        report = seed(db_.visits, clinics=clinics, quiet=not sys.stderr.isatty())
        db.session.remove()
        _settle(db.engine)
        db.engine.dispose()
    per_million = report.seconds * 1_000_000 / db_.visits
    return Figure(
        f"seed {db_.visits:,} visits", round(report.seconds, 1), "s",
        f"≤ {SEED_TARGET_S // 60} min per 1M", per_million <= SEED_TARGET_S, db_.backend,
        {"visits_per_s": round(db_.visits / report.seconds), "mode": report.mode,
         "rows": report.counts, "phases_s": {k: round(v, 1) for k, v in report.phases.items()},
         "seconds_per_million": round(per_million)},
    )  # fmt: skip


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def _shown(f: Figure) -> str:
    d = f.detail
    if f.figure.startswith("SQL statements"):
        return f"{d['small']} / {d['large']}"
    if f.figure.startswith("server time"):
        return f"{f.measured}× ({d['small_ms']} / {d['large_ms']} ms)"
    if f.figure.startswith("receipt PDF"):
        return f"{f.measured}× ({d['end_to_end_ms']} / {d['weasyprint_ms']} ms)"
    if f.figure.startswith("bulk export"):
        ceiling = d.get("machine_2_process_speedup")
        machine = f"; pure Python on this machine {ceiling}×" if ceiling else ""
        return f"{f.measured}× ({d['one_process_s']} s / {d['two_processes_s']} s{machine})"
    if f.figure.startswith("chart page"):
        return f"{f.measured} % ({d['chart']['rps']} / {d['trivial']['rps']} req/s)"
    if f.figure.startswith("seed"):
        return f"{f.measured} s ({d['visits_per_s']:,}/s)"
    if f.figure.startswith("create_app"):
        return f"{f.measured} ms (import+create {d['import_plus_create_ms']} ms)"
    return f"{f.measured} {f.unit}"


def table(figures: list[Figure], sizes: str) -> str:
    rows = [("figure", "backend", "measured", "target", "pass")]
    for f in figures:
        mark = "yes" if f.passed else ("n/a" if f.passed is None else "NO")
        rows.append((f.figure, f.backend or "-", _shown(f), f.target, mark))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"Stillpoint benchmarks ({sizes})"]
    for n, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=100_000, help="the large dataset")
    parser.add_argument("--small", type=int, default=1000, help="the small dataset")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", default="benchmarks/results.json")
    parser.add_argument("--export-receipts", type=int, default=1000)
    parser.add_argument("--pdfs", type=int, default=1000, help="renders for the memory figure")
    parser.add_argument("--load-seconds", type=float, default=10)
    parser.add_argument("--only", default="startup,pages,load,pdf", help="figure groups to run")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases")
    args = parser.parse_args(argv)
    groups = set(args.only.split(","))
    os.environ.setdefault("STILLPOINT_CACHE_DIR", str(Path("benchmarks/.data/cache").resolve()))

    backends = [b for b in args.backends.split(",") if b]
    notes: list[str] = []
    if "postgresql" in backends and not pg_available():
        backends.remove("postgresql")
        notes.append("PostgreSQL not reachable: its figures were skipped")
    started = time.perf_counter()
    figures: list[Figure] = []
    databases: list[Database] = []
    try:
        for backend in backends:
            small, large = new_database(backend, args.small), new_database(backend, args.visits)
            databases += [small, large]
            _seed(small, clinics=1)  # one clinic: its patient list fills a page, as at scale
            figures.append(_seed(large))
            figures += _backend_figures(small, large, args, groups, notes)
        if "startup" in groups and databases:
            from benchmarks.startup import create_app_time

            print("- create_app()", file=sys.stderr, flush=True)
            figures.append(create_app_time(databases[0].url))
        if "pdf" in groups and databases:
            figures += _pdf_figures(databases[1], args)
    finally:
        if not args.keep:
            for database in databases:
                database.drop()
        else:
            notes += [f"kept {d.backend} {d.visits:,}: {d.url}" for d in databases]

    sizes = f"{args.small:,} vs {args.visits:,} visits; backends: {', '.join(backends)}"
    print(table(figures, sizes))
    for note in notes:
        print(f"note: {note}")
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": {"small_visits": args.small, "large_visits": args.visits, "backends": backends},
        "machine": _machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "notes": notes,
        "figures": [f.as_dict() for f in figures],
        "all_passed": all(f.passed is not False for f in figures),
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"JSON written to {path} ({result['seconds']} s)")
    return 0


def _backend_figures(
    small: Database, large: Database, args: argparse.Namespace, groups: set[str], notes: list[str]
) -> list[Figure]:
    from benchmarks import pages

    figures: list[Figure] = []
    if not groups & {"pages", "load"}:
        return figures
    print(f"- pages on {large.backend}", file=sys.stderr, flush=True)
    site_small, site_large = (
        pages.prepare(small.url, small.visits),
        pages.prepare(large.url, large.visits),
    )
    if "compliance dashboard" not in site_large.urls:
        notes.append("oversight.dashboard does not exist yet: compliance dashboard skipped")
    if "pages" in groups:
        figures += pages.measure(site_small, site_large, large.backend)
    if "load" in groups:
        from benchmarks.load import chart_throughput

        print(f"- gunicorn load on {large.backend}", file=sys.stderr, flush=True)
        for cache in (True, False):
            figures.append(
                chart_throughput(
                    large.url, site_large.urls["chart (patient page)"],
                    site_large.therapist_email, large.backend, seconds=args.load_seconds,
                    cache=cache,
                )
            )  # fmt: skip
    for site in (site_small, site_large):
        with site.app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
    return figures


def _pdf_figures(database: Database, args: argparse.Namespace) -> list[Figure]:
    from benchmarks import pdfs

    print("- PDFs", file=sys.stderr, flush=True)
    app = make_app(database.url)
    out = [pdfs.receipt_vs_weasyprint(app), pdfs.summary_median(app)]
    print("- export, 1 and 2 processes", file=sys.stderr, flush=True)
    out.append(pdfs.export_speedup(app, args.export_receipts))
    print("- memory after many PDFs", file=sys.stderr, flush=True)
    out.append(pdfs.memory_growth(database.url, args.pdfs))
    for figure in out:
        figure.backend = database.backend
        figure.detail["visits"] = database.visits
    with app.app_context():
        from app.extensions import db

        db.engine.dispose()
    return out


if __name__ == "__main__":
    raise SystemExit(main())
