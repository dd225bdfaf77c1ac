"""The chart's record, rendered once per change of what it shows.

The chart is the most viewed page, and most views of one patient's chart show the same
record as the view before. Each worker keeps the rendered record (the header, details,
consent, health history, visits and receipts: everything between the page's frame and the
portal panel) in a small LRU cache, keyed on what it is made of:

- the patient and the patient's ``chart_stamp``, which the database moves in the same
  transaction as any write to the rows the record shows (triggers, migration 0010), so a
  committed change is in the next view, whoever wrote it and however. The stamp is read
  before anything the record is rendered from, so a kept rendering is never older than
  the stamp it is kept under;
- the viewer's role (clinical parts and buttons depend on it, never on the person);
- the site's root path (the links).

Only the record with the first page of visits is kept. The page around it, the portal
panel (it holds a CSRF token and depends on the time) and the audit entry of the view are
made on every view. ``CHART_CACHE_SIZE`` sets the entries per worker (0 turns the cache
off). docs/performance.md says what it saves.

The record is kept as UTF-8, ready to send: the page around it is rendered with
``RECORD_SLOT`` in its place and ``splice`` puts the kept bytes there. Encoding the whole
page on every view cost more than rendering its frame (the record is most of the page,
and one arrow or dash in it makes Python hold the text at two bytes a character).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any

from cachetools import LRUCache
from flask import Flask, current_app
from markupsafe import Markup

EXTENSION = "stillpoint.chart_records"

# Where the record goes in the rendered page: an HTML comment no template or user can
# write, since it is made anew by each process.
RECORD_SLOT = Markup(f"<!--chart-record-{secrets.token_hex(16)}-->")  # noqa: S704 - ours


def splice(page: str, record: bytes) -> bytes:
    """``page`` (rendered with ``RECORD_SLOT`` once in it) as UTF-8, with ``record`` there."""
    head, slot, tail = page.partition(RECORD_SLOT)
    if not slot:
        raise ValueError("the page has no place for the chart record")
    return b"".join((head.encode(), record, tail.encode()))


class RecordCache:
    """Renderings by key; thread-safe, bounded, least recently used out first."""

    def __init__(self, size: int) -> None:
        self._entries: LRUCache[Hashable, Any] | None = LRUCache(size) if size > 0 else None
        self._lock = Lock()
        self.hits = self.misses = 0

    def get_or_render(self, key: Hashable, render: Callable[[], Any]) -> Any:
        if self._entries is None:
            return render()
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None:
                self.hits += 1
                return kept
            self.misses += 1
        made = render()  # outside the lock: another thread may render the same key
        with self._lock:
            self._entries[key] = made
        return made

    def clear(self) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries) if self._entries is not None else 0


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = RecordCache(int(app.config["CHART_CACHE_SIZE"]))


def record_cache(app: Flask | None = None) -> RecordCache:
    """The application's cache (the current application's without ``app``)."""
    return (app or current_app).extensions[EXTENSION]
