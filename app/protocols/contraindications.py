"""Contraindication check (S2): a patient's conditions against one protocol.

A pure function with no database or request: the charting issue calls it
with the conditions of the patient's current health history when a protocol
is picked, shows the matches, and records the therapist's acknowledgement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from app.vocab import CONDITIONS

if TYPE_CHECKING:
    from app.protocols.library import Contraindication, Protocol

Severity = Literal["absolute", "relative"]


@dataclass(frozen=True)
class Match:
    """One of the patient's conditions that the protocol lists as a contraindication."""

    code: str
    label: str
    severity: Severity
    note: str
    explanation: str


@dataclass(frozen=True)
class CheckResult:
    protocol_id: str
    absolute: tuple[Match, ...] = ()
    relative: tuple[Match, ...] = ()

    @property
    def matches(self) -> tuple[Match, ...]:
        return self.absolute + self.relative

    @property
    def blocked(self) -> bool:
        """An absolute contraindication matches: the protocol must not be applied as written."""
        return bool(self.absolute)

    @property
    def needs_acknowledgement(self) -> bool:
        """Any match at all: the therapist must read the warning and acknowledge it (S2)."""
        return bool(self.absolute or self.relative)


def _explain(item: Contraindication, severity: Severity, protocol: Protocol) -> str:
    label = CONDITIONS[item.code].label
    if severity == "absolute":
        text = f"{label} is an absolute contraindication to {protocol.title}: do not apply this protocol."
    else:
        text = f"{label} is a relative contraindication to {protocol.title}: adapt the treatment or get clearance first."
    return f"{text} {item.note}" if item.note else text


def _matches(
    items: Iterable[Contraindication], present: set[str], severity: Severity, protocol: Protocol
) -> tuple[Match, ...]:
    return tuple(
        Match(
            code=item.code,
            label=CONDITIONS[item.code].label,
            severity=severity,
            note=item.note,
            explanation=_explain(item, severity, protocol),
        )
        for item in items
        if item.code in present
    )


def check(conditions: Iterable[str] | None, protocol: Protocol) -> CheckResult:
    """Match ``conditions`` (health-history codes) against ``protocol``'s contraindications.

    Codes no longer in the vocabulary (legacy data) are ignored; repeated codes
    count once. Matches keep the order in which the protocol lists them.
    """
    present = {code for code in conditions or () if isinstance(code, str) and code in CONDITIONS}
    return CheckResult(
        protocol_id=protocol.id,
        absolute=_matches(protocol.absolute, present, "absolute", protocol),
        relative=_matches(protocol.relative, present, "relative", protocol),
    )
