"""The chart's visit and receipt sections, rendered once per change of the records.

The chart is the most viewed page, and most views of one patient's chart see the same
visits and receipts as the view before. Each worker keeps the rendered sections in a
small LRU cache, keyed on what they are made of:

- the patient and the patient's ``chart_stamp``, which the database moves in the same
  transaction as any write to the rows the sections show (triggers, migration 0010), so
  a committed change is in the next view, whoever wrote it and however;
- the viewer's role (clinical columns and buttons depend on it, never on the person);
- the site's root path (the links).

Only the first page of visits is kept; the patient header, the portal panel (it holds a
CSRF token and the time) and the page around the sections are rendered on every view,
and every view is audited as before. ``CHART_CACHE_SIZE`` sets the entries per worker
(0 turns the cache off). See docs/performance.md for what it saves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from threading import Lock

from cachetools import LRUCache
from flask import Flask, current_app
from markupsafe import Markup

EXTENSION = "stillpoint.chart_sections"


class SectionCache:
    """Rendered HTML by key; thread-safe, bounded, least recently used out first."""

    def __init__(self, size: int) -> None:
        self._entries: LRUCache[Hashable, Markup] | None = LRUCache(size) if size > 0 else None
        self._lock = Lock()
        self.hits = self.misses = 0

    def get_or_render(self, key: Hashable, render: Callable[[], Markup]) -> Markup:
        if self._entries is None:
            return render()
        with self._lock:
            html = self._entries.get(key)
            if html is not None:
                self.hits += 1
                return html
            self.misses += 1
        html = render()  # outside the lock: another thread may render the same key
        with self._lock:
            self._entries[key] = html
        return html

    def clear(self) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries) if self._entries is not None else 0


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = SectionCache(int(app.config["CHART_CACHE_SIZE"]))


def section_cache(app: Flask | None = None) -> SectionCache:
    """The application's cache (the current application's without ``app``)."""
    return (app or current_app).extensions[EXTENSION]
