"""Protocol services: search the library, check a patient against a protocol."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import HealthHistory, Patient
from app.patients.services import current_history
from app.protocols.contraindications import CheckResult, check
from app.protocols.library import Library, Protocol
from app.protocols.search import SearchResults
from app.vocab import Term


@dataclass(frozen=True)
class Browse:
    results: SearchResults
    groups: list[tuple[Term, list[Protocol]]]  # empty when ranked by a query
    filtered: bool


def browse(library: Library, criteria: dict[str, str]) -> Browse:
    """Search results ranked by the query, or grouped by category when there is none."""
    query = criteria.get("query", "")
    filters = {k: v or None for k, v in criteria.items() if k != "query"}
    results = library.index.search(query, **filters)
    groups = [] if results.terms else library.by_category(results.protocols)
    return Browse(results, groups, filtered=bool(query or any(filters.values())))


@dataclass(frozen=True)
class PatientCheck:
    patient: Patient
    history: HealthHistory | None
    result: CheckResult


def check_patient(patient: Patient, protocol: Protocol) -> PatientCheck:
    """Check ``protocol`` against ``patient``'s current health history."""
    history = current_history(patient)
    conditions = history.conditions if history else []
    return PatientCheck(patient, history, check(conditions, protocol))
