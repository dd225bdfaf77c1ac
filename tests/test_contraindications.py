"""The contraindication checker (S2): a pure function, no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.protocols.contraindications import CheckResult, check
from app.protocols.library import load_library
from app.vocab import CONDITIONS
from tests import protocol_samples as s

PROTOCOL = s.protocol(
    id="tp-upper-trapezius",
    title="Upper trapezius release",
    absolute=[("dvt", "Do not treat; refer."), "fever"],
    relative=[("anticoagulants", "Light pressure only."), "osteoporosis"],
)


def codes(matches) -> list[str]:
    return [m.code for m in matches]


@pytest.mark.parametrize("conditions", [[], (), None, ["pregnancy", "migraine"]])
def test_no_match(conditions) -> None:
    result = check(conditions, PROTOCOL)
    assert result == CheckResult("tp-upper-trapezius")
    assert result.matches == ()
    assert not result.blocked and not result.needs_acknowledgement


def test_absolute_match_blocks() -> None:
    result = check(["dvt"], PROTOCOL)
    assert codes(result.absolute) == ["dvt"] and result.relative == ()
    assert result.blocked and result.needs_acknowledgement
    match = result.absolute[0]
    assert match.label == CONDITIONS["dvt"].label
    assert match.severity == "absolute"
    assert match.note == "Do not treat; refer."
    assert match.explanation.startswith(CONDITIONS["dvt"].label)
    assert "absolute contraindication to Upper trapezius release" in match.explanation
    assert "do not apply" in match.explanation
    assert match.explanation.endswith("Do not treat; refer.")


def test_relative_match_needs_acknowledgement_but_does_not_block() -> None:
    result = check(["anticoagulants"], PROTOCOL)
    assert result.absolute == () and codes(result.relative) == ["anticoagulants"]
    assert not result.blocked and result.needs_acknowledgement
    match = result.relative[0]
    assert match.severity == "relative"
    assert match.label == "Takes anticoagulants or antiplatelets"
    assert match.note == "Light pressure only."
    assert "relative contraindication" in match.explanation
    assert "Light pressure only." in match.explanation


def test_a_match_without_a_note_still_explains_itself() -> None:
    result = check(["fever", "osteoporosis"], PROTOCOL)
    assert result.absolute[0].note == "" and result.relative[0].note == ""
    assert result.absolute[0].explanation.endswith("do not apply this protocol.")
    assert result.relative[0].explanation.endswith("get clearance first.")


def test_both_absolute_and_relative() -> None:
    result = check(["osteoporosis", "fever", "anticoagulants", "dvt", "pregnancy"], PROTOCOL)
    # the protocol's order, not the history's
    assert codes(result.absolute) == ["dvt", "fever"]
    assert codes(result.relative) == ["anticoagulants", "osteoporosis"]
    assert codes(result.matches) == ["dvt", "fever", "anticoagulants", "osteoporosis"]
    assert result.blocked and result.needs_acknowledgement


def test_unknown_legacy_codes_are_ignored() -> None:
    result = check(["old_code_removed", "", "DVT", 42, None, "anticoagulants"], PROTOCOL)
    assert codes(result.matches) == ["anticoagulants"]


def test_duplicates_count_once() -> None:
    result = check(["dvt", "dvt", "anticoagulants", "anticoagulants"], PROTOCOL)
    assert codes(result.absolute) == ["dvt"] and codes(result.relative) == ["anticoagulants"]


def test_accepts_any_iterable_including_a_generator() -> None:
    result = check((c for c in ["fever"]), PROTOCOL)
    assert codes(result.absolute) == ["fever"]


def test_protocol_without_contraindications() -> None:
    result = check(list(CONDITIONS), s.protocol())
    assert result.matches == () and not result.needs_acknowledgement


def test_result_is_immutable_and_comparable() -> None:
    a, b = check(["dvt"], PROTOCOL), check(["dvt"], PROTOCOL)
    assert a == b
    with pytest.raises(AttributeError):
        a.absolute = ()  # type: ignore[misc]


def test_every_condition_against_every_shipped_protocol_is_consistent() -> None:
    library = load_library(Path(__file__).resolve().parents[1] / "protocols")
    everything = list(CONDITIONS)
    for protocol in library:
        result = check(everything, protocol)
        assert codes(result.absolute) == [c.code for c in protocol.absolute]
        assert codes(result.relative) == [c.code for c in protocol.relative]
        assert result.needs_acknowledgement  # every shipped protocol lists some


def test_anticoagulants_patient_against_shipped_upper_trapezius() -> None:
    """The world's demo patient takes anticoagulants: a relative contraindication here."""
    protocol = load_library(Path(__file__).resolve().parents[1] / "protocols").get(
        "tp-upper-trapezius"
    )
    result = check(["anticoagulants"], protocol)
    assert not result.blocked and codes(result.relative) == ["anticoagulants"]
    assert "pressure" in result.relative[0].note.lower()
