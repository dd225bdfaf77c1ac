"""Start-up: ``create_app()`` in a fresh process, with the whole protocol library.

Each run is a new interpreter (nothing cached in memory). The figure is the
``create_app()`` call itself; the import of the ``app`` package before it and the
same call with the protocol cache switched off are reported beside it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from benchmarks.common import ROOT, SECRET, Figure

CHILD = """
import json, time
t0 = time.perf_counter()
from app import create_app
t1 = time.perf_counter()
app = create_app({"SQLALCHEMY_DATABASE_URI": %r, "SECRET_KEY": %r})
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "create": t2 - t1, "protocols": len(app.extensions["protocols"])}))
"""


def _runs(url: str, runs: int, cache: str | None) -> list[dict[str, float]]:
    env = dict(os.environ)
    if cache is not None:
        env["STILLPOINT_CACHE_DIR"] = cache
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD % (url, SECRET)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def create_app_time(url: str, runs: int = 7) -> Figure:
    _runs(url, 1, None)  # fill the protocol cache and the bytecode caches
    warm = _runs(url, runs, None)
    cold = _runs(url, 3, "")
    create = statistics.median(r["create"] for r in warm)
    return Figure(
        "create_app() with the whole protocol library", round(create * 1000), "ms", "≤ 500 ms",
        create <= 0.5, "",
        {"runs": runs, "protocols": int(warm[0]["protocols"]),
         "import_app_ms": round(statistics.median(r["import"] for r in warm) * 1000),
         "import_plus_create_ms": round(statistics.median(r["import"] + r["create"] for r in warm) * 1000),
         "create_without_protocol_cache_ms": round(statistics.median(r["create"] for r in cold) * 1000)},
    )  # fmt: skip
