"""Requests per second under gunicorn: the chart page against a trivial route.

gunicorn runs the real app with 2 sync workers on loopback. A small load
generator (threads, one connection per request, as sync workers close them)
keeps a fixed number of requests in flight: bounded load, not a flood. The
trivial route is ``/health`` (one ``SELECT 1``); the chart is a signed-in
therapist's view of a busy patient. Both are measured the same way, in five
turns each, taken alternately (trivial, chart, trivial, chart, ...), so that a
change in the shared machine's speed during the run hits both alike; the ratio
says how much of the server's capacity a chart costs.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from typing import Any

from benchmarks.common import CSRF_RE, ROOT, SECRET, Figure

TARGET = 0.33


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, cookie: str = "") -> tuple[int, bytes, list[tuple[str, str]]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read(), response.getheaders()
    finally:
        conn.close()


def _cookies(headers: list[tuple[str, str]], jar: dict[str, str]) -> None:
    for name, value in headers:
        if name.lower() == "set-cookie":
            parsed = SimpleCookie(value)
            for key, morsel in parsed.items():
                jar[key] = morsel.value


def _signin(port: int, email: str) -> str:
    from app.bench.seed import BENCH_PASSWORD

    jar: dict[str, str] = {}
    status, body, headers = _get(port, "/signin")
    _cookies(headers, jar)
    token = CSRF_RE.search(body.decode())
    assert status == 200 and token, "no sign-in form"
    form = urllib.parse.urlencode(
        {"email": email, "password": BENCH_PASSWORD, "csrf_token": token.group(1)}
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    conn.request(
        "POST", "/signin", form,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )  # fmt: skip
    response = conn.getresponse()
    response.read()
    _cookies(response.getheaders(), jar)
    conn.close()
    assert response.status == 302, f"sign-in refused: {response.status}"
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _wait_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + (proc.stderr.read() if proc.stderr else ""))
        try:
            if _get(port, "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def _load(port: int, path: str, cookie: str, seconds: float, concurrency: int) -> dict[str, float]:
    """Keep ``concurrency`` requests in flight for ``seconds``; count the answers."""
    stop = time.monotonic() + seconds
    done, failed, latencies = [0], [0], []
    lock = threading.Lock()

    def worker() -> None:
        while time.monotonic() < stop:
            start = time.perf_counter()
            status = _get(port, path, cookie)[0]
            elapsed = time.perf_counter() - start
            with lock:
                if status == 200:
                    done[0] += 1
                    latencies.append(elapsed)
                else:
                    failed[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {"done": done[0], "failed": failed[0], "wall": wall, "latencies": latencies}


def _summary(phases: list[dict[str, Any]]) -> dict[str, float]:
    done = sum(p["done"] for p in phases)
    latencies = sorted(x for p in phases for x in p["latencies"])
    return {
        "rps": done / sum(p["wall"] for p in phases),
        "failed": sum(p["failed"] for p in phases),
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000 if latencies else 0.0,
    }


def _alternating(
    port: int, routes: dict[str, tuple[str, str]], seconds: float, concurrency: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Load each route for ``seconds`` in all, in ``rounds`` turns taken one after the
    other: a change in the machine's speed during the run hits every route alike."""
    phases: dict[str, list[dict[str, Any]]] = {name: [] for name in routes}
    for _ in range(rounds):
        for name, (path, cookie) in routes.items():
            phases[name].append(_load(port, path, cookie, seconds / rounds, concurrency))
    return {name: _summary(runs) for name, runs in phases.items()}


def chart_throughput(
    url: str,
    chart_path: str,
    email: str,
    backend: str,
    seconds: float = 10,
    concurrency: int = 4,
    cache: bool = True,
) -> Figure:
    """Start gunicorn on ``url`` and compare the chart page's requests/s with /health.

    ``cache=False`` turns the chart cache off (``CHART_CACHE_SIZE=0``): every
    view then reads and renders the visits and receipts, as the first view after a
    change does. That figure is shown for reference; the target is for the app as shipped.
    """
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STILLPOINT_SECRET_KEY": SECRET,
        "STILLPOINT_SESSION_COOKIE_SECURE": "false",
        "STILLPOINT_PUBLIC_BASE_URL": '"https://clinic.example"',
        "STILLPOINT_CHART_CACHE_SIZE": "512" if cache else "0",
    }
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    proc = subprocess.Popen(
        [gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_up(port, proc)
        cookie = _signin(port, email)
        status, body, _ = _get(port, chart_path, cookie)
        assert status == 200 and re.search(rb"<h1", body), f"chart page answered {status}"
        _load(port, "/health", "", 2, concurrency)  # warm both workers
        _load(port, chart_path, cookie, 2, concurrency)
        routes = {"trivial": ("/health", ""), "chart": (chart_path, cookie)}
        result = _alternating(port, routes, seconds, concurrency, rounds=5)
        trivial, chart = result["trivial"], result["chart"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    share = chart["rps"] / trivial["rps"]
    name = "chart page requests/s vs trivial route (gunicorn, 2 workers)"
    if not cache:
        name = "  the same, chart cache off (every view a first view)"
    return Figure(
        name, round(share * 100, 1), "%", f"≥ {TARGET:.0%}" if cache else "(reference)",
        share >= TARGET if cache else None, backend,
        {"chart": {k: round(v, 1) for k, v in chart.items()},
         "trivial": {k: round(v, 1) for k, v in trivial.items()},
         "concurrency": concurrency, "seconds": seconds},
    )  # fmt: skip
