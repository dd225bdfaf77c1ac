"""Column types and helpers shared by every model."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zones; PostgreSQL uses ``timestamptz``. Either way the
    application only ever sees aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def fold(text: str | None) -> str:
    """Lower-case, accent-free form of a name, used for indexed prefix search."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped.casefold()).strip()


def digits(text: str | None) -> str:
    """Only the digits of ``text`` (phone numbers are searched this way)."""
    return re.sub(r"\D", "", text or "")


def phone_key(text: str | None) -> str:
    """Digits of a phone number without the North American country code."""
    number = digits(text)
    return number[1:] if len(number) == 11 and number.startswith("1") else number
