"""One dashboard section: up to a limit of rows and the total, from a single statement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func

from app.extensions import db

SECTION_LIMIT = 50


@dataclass
class Section:
    """Up to ``limit`` rows of one rule, and how many rows the rule found in all."""

    rows: list[Any]
    total: int
    cap: int | None = None  # counted only up to this; ``total`` above it means "more than"

    @property
    def over_cap(self) -> bool:
        return self.cap is not None and self.total > self.cap

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


def section(stmt: Select[Any], limit: int | None) -> Section:
    """Run ``stmt`` with a window count of all its rows, keeping at most ``limit``."""
    stmt = stmt.add_columns(func.count().over().label("total_rows"))
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = list(db.session.execute(stmt).all())
    return Section(rows, rows[0].total_rows if rows else 0)
