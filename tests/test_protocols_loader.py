"""Loading the protocol library: valid, hostile and broken files (no database)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.protocols import get_library, reload_library
from app.protocols.library import MAX_FILE_BYTES, LoadProblem, load_library
from app.protocols.schema import REQUIRED
from app.vocab import CATEGORIES, CONDITIONS, INDICATIONS, MUSCLES, REGIONS
from tests import protocol_samples as s
from tests.conftest import base_config

SHIPPED = Path(__file__).resolve().parents[1] / "protocols"


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    root = tmp_path / "shipped"
    root.mkdir()
    return root


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    root = tmp_path / "clinic"
    root.mkdir()
    return root


def only_problem(problems: list[LoadProblem]) -> LoadProblem:
    assert len(problems) == 1, problems
    return problems[0]


def load_one(shipped: Path, front: dict | str, body: str = s.BODY, **kw) -> list[LoadProblem]:
    """Write one bad file next to a good one; the good one must still load."""
    s.write(shipped, s.meta("tp-good"))
    s.write(shipped, front, body, **kw)
    library = load_library(shipped)
    assert library.get("tp-good") is not None
    return library.problems


# --- a valid file ---------------------------------------------------------------------


def test_valid_file_loads_every_field(shipped: Path) -> None:
    path = s.write(shipped)
    library = load_library(shipped)
    assert library.problems == []
    p = library.get("tp-sample")
    assert p is not None and len(library) == 1
    assert p.title == "Sample trigger point release"
    assert (
        p.category == "trigger_point" and p.category_term.label == CATEGORIES["trigger_point"].label
    )
    assert p.regions == ("neck_posterior", "shoulder")
    assert p.muscles == ("upper_trapezius",)
    assert p.indications == ("tension_type_headache", "neck_pain")
    assert [(c.code, c.note) for c in p.absolute] == [
        ("dvt", "Do not treat; refer."),
        ("fever", ""),
    ]
    assert [(c.code, c.note) for c in p.relative] == [("anticoagulants", "Light pressure only.")]
    assert p.sensitive_area is False and p.red_flag_screen is True
    assert p.duration_minutes == 15
    assert p.references[0].url == "https://doi.org/10.1000/example"
    assert p.references[1].citation == "Author A. A book. 2020."
    assert p.source == "shipped" and not p.overrides_shipped
    assert p.path.endswith("trigger_point/tp-sample.md")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert p.content_version == f"1-{digest}"
    assert "<h2>Positioning</h2>" in p.body_html and "<table>" in p.body_html
    assert "<strong>10 minutes</strong>" in p.home_care_html


def test_content_version_follows_version_field_and_bytes(shipped: Path) -> None:
    path = s.write(shipped, s.meta(version="2.1"))
    first = load_library(shipped).get("tp-sample")
    assert first is not None and first.content_version.startswith("2.1-")
    assert load_library(shipped).get("tp-sample").content_version == first.content_version
    path.write_text(path.read_text() + "\nOne more step.\n")
    changed = load_library(shipped).get("tp-sample")
    assert changed.content_version.startswith("2.1-")
    assert changed.content_version != first.content_version


def test_version_is_optional_and_defaults_to_1(shipped: Path) -> None:
    s.write(shipped, s.meta(version=None, muscles=None))
    p = load_library(shipped).get("tp-sample")
    assert p is not None and p.version == "1" and p.content_version.startswith("1-")
    assert p.muscles == ()


def test_byte_order_mark_and_crlf_are_accepted(shipped: Path) -> None:
    path = shipped / "trigger_point" / "tp-sample.md"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbf" + s.text(s.meta()).replace("\n", "\r\n").encode())
    library = load_library(shipped)
    assert library.problems == [] and len(library) == 1


# --- hostile content ------------------------------------------------------------------

HOSTILE_BODY = """## Steps

<script>window.__pwned = 1</script>
<img src="http://evil.example/x.png" onerror="window.__pwned = 1">
![remote](http://evil.example/pixel.png)
[a link](javascript:window.__pwned=1)
<a href="https://ok.example/" onmouseover="window.__pwned = 1">hover</a>

| dose | value |
|---|---|
| hold | 60 s |
"""
HOSTILE_HOME = (
    "### At home\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
    "[site](javascript:alert(1)) ![i](http://evil.example/i.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)


def test_hostile_body_and_home_care_are_sanitised(shipped: Path) -> None:
    s.write(shipped, s.meta(home_care=HOSTILE_HOME), HOSTILE_BODY)
    p = load_library(shipped).get("tp-sample")
    assert p is not None
    for html in (str(p.body_html), str(p.home_care_html)):
        lowered = html.lower()
        for bad in ("<script", "onerror", "onmouseover", "javascript:", "<img", "evil.example"):
            assert bad not in lowered, (bad, html)
        assert "<table>" in html
    assert "<h2>Steps</h2>" in p.body_html and "<h3>At home</h3>" in p.home_care_html
    assert 'href="https://ok.example/"' in p.body_html


# --- broken files: each is reported with path and field, and skipped -------------------


def test_malformed_yaml_is_reported_with_path_and_line(shipped: Path) -> None:
    bad = "id: tp-bad\ntitle: [unclosed\ncategory: trigger_point\n"
    problem = only_problem(load_one(shipped, bad, name="tp-bad"))
    assert problem.path.endswith("trigger_point/tp-bad.md")
    assert problem.field == "front matter"
    assert "malformed YAML at line" in problem.message
    assert str(problem).startswith(problem.path + ": front matter: ")


def test_missing_front_matter_is_reported(shipped: Path) -> None:
    path = shipped / "trigger_point" / "tp-bare.md"
    path.parent.mkdir(parents=True)
    path.write_text("# Just Markdown\n\nNo header.\n")
    problem = only_problem(load_library(shipped).problems)
    assert problem.field == "front matter" and "---" in problem.message


def test_front_matter_must_be_a_mapping(shipped: Path) -> None:
    problem = only_problem(load_one(shipped, "- just\n- a list\n", name="tp-list"))
    assert problem.field == "front matter" and "mapping" in problem.message


def test_duplicate_yaml_key_is_refused(shipped: Path) -> None:
    header = s.text(s.meta("tp-dup")).split("---\n")[1] + "title: Second title\n"
    problem = only_problem(load_one(shipped, header, name="tp-dup"))
    assert problem.field == "front matter" and "'title' appears twice" in problem.message


@pytest.mark.parametrize("field", REQUIRED)
def test_missing_required_field(shipped: Path, field: str) -> None:
    front = {k: v for k, v in s.meta("tp-missing").items() if k != field}
    problems = load_one(shipped, front, name="tp-missing", folder="trigger_point")
    assert any(p.field == field and "required field is missing" in p.message for p in problems)


def test_unknown_category(shipped: Path) -> None:
    problems = load_one(shipped, s.meta("tp-x", category="reiki"), name="tp-x", folder="reiki")
    problem = only_problem(problems)
    assert problem.field == "category" and "unknown category 'reiki'" in problem.message


def test_category_must_match_the_folder(shipped: Path) -> None:
    problems = load_one(shipped, s.meta("tp-x"), name="tp-x", folder="deep_tissue")
    problem = only_problem(problems)
    assert problem.field == "category" and "deep_tissue/" in problem.message


def test_unknown_condition_code(shipped: Path) -> None:
    contra = {"absolute": ["fever", {"code": "bad_knees", "note": "x"}], "relative": []}
    problem = only_problem(load_one(shipped, s.meta("tp-x", contraindications=contra)))
    assert problem.field == "contraindications"
    assert "unknown condition code 'bad_knees'" in problem.message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("regions", ["neck_posterior", "elbow"], "unknown region code(s): elbow"),
        ("muscles", ["biceps"], "unknown muscle code(s): biceps"),
        ("indications", ["hangover"], "unknown indication code(s): hangover"),
        ("regions", [], "at least one"),
        ("regions", "neck_posterior", "must be a list"),
        ("indications", ["neck_pain", "neck_pain"], "more than once"),
        ("duration_minutes", 3, "between 5 and 120"),
        ("duration_minutes", 121, "between 5 and 120"),
        ("duration_minutes", "15", "whole number"),
        ("duration_minutes", True, "whole number"),
        ("sensitive_area", "no", "true or false"),
        ("red_flag_screen", 1, "true or false"),
        ("version", 0, "positive whole number"),
        ("version", "v 2 beta", "short label"),
        ("title", "", "non-empty text"),
        ("title", "x" * 121, "the limit is 120"),
        ("home_care", ["list"], "non-empty text"),
        ("references", [], "at least one reference"),
        ("references", [{"title": "No url"}], "title and url, or a citation"),
        ("references", [{"title": "T", "url": "javascript:alert(1)"}], "http:// or https://"),
        ("references", [{"citation": "C", "isbn": "1"}], "unknown key(s) isbn"),
        ("contraindications", {"absolute": [], "relative": []}, "at least one"),
        ("contraindications", {"absolute": ["dvt"], "relative": ["dvt"]}, "listed twice"),
        ("contraindications", {"absolute": [{"code": "dvt", "why": "x"}]}, "unknown key(s) why"),
        ("contraindications", {"never": ["dvt"]}, "unknown key(s) never"),
        ("contraindications", ["dvt"], "mapping"),
    ],
)
def test_invalid_field_values(shipped: Path, field: str, value: object, expected: str) -> None:
    problem = only_problem(load_one(shipped, s.meta("tp-x", **{field: value})))
    assert problem.field == field
    assert expected in problem.message, problem.message


def test_unknown_field_is_a_problem(shipped: Path) -> None:
    problem = only_problem(load_one(shipped, s.meta("tp-x", contraindication=["dvt"])))
    assert problem.field == "contraindication" and "unknown field" in problem.message


def test_id_must_equal_file_stem(shipped: Path) -> None:
    problem = only_problem(load_one(shipped, s.meta("tp-other"), name="tp-x"))
    assert problem.field == "id" and "tp-x.md" in problem.message


def test_id_must_be_kebab_case(shipped: Path) -> None:
    problem = only_problem(load_one(shipped, s.meta("TP_Bad"), name="TP_Bad"))
    assert problem.field == "id" and "kebab-case" in problem.message


def test_sensitive_region_requires_sensitive_area(shipped: Path) -> None:
    front = s.meta("mfr-x", category="myofascial_release", regions=["chest_wall"])
    problem = only_problem(load_one(shipped, front))
    assert problem.field == "sensitive_area" and "chest_wall" in problem.message


@pytest.mark.parametrize(
    ("front", "required"),
    [
        (s.meta("tp-x", red_flag_screen=False), True),
        (s.meta("cs-x", category="craniosacral", regions=["face"], red_flag_screen=False), True),
        (
            s.meta("dt-x", category="deep_tissue", regions=["upper_back"], red_flag_screen=False),
            False,
        ),
    ],
)
def test_neck_and_cranial_work_require_the_red_flag_screen(
    shipped: Path, front: dict, required: bool
) -> None:
    problems = load_one(shipped, front)
    if required:
        assert only_problem(problems).field == "red_flag_screen"
    else:
        assert problems == []


def test_empty_body_is_a_problem(shipped: Path) -> None:
    problem = only_problem(load_one(shipped, s.meta("tp-x"), body="\n  \n"))
    assert problem.field == "body"


def test_every_problem_of_a_file_is_listed(shipped: Path) -> None:
    front = s.meta("tp-x", regions=["elbow"], duration_minutes=500, summary=None)
    fields = {p.field for p in load_one(shipped, front)}
    assert fields == {"regions", "duration_minutes", "summary"}


def test_duplicate_ids_within_a_source(shipped: Path) -> None:
    s.write(shipped, s.meta("tp-twin"))
    s.write(shipped, s.meta("tp-twin", category="deep_tissue"))
    library = load_library(shipped)
    assert len(library) == 1
    problem = only_problem(library.problems)
    assert problem.field == "id" and "duplicate id 'tp-twin'" in problem.message
    assert problem.path.endswith("trigger_point/tp-twin.md")  # the later file in path order
    assert "deep_tissue/tp-twin.md" in problem.message


def test_non_utf8_bytes_are_refused(shipped: Path) -> None:
    path = shipped / "trigger_point" / "tp-latin1.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(s.text(s.meta("tp-latin1", title="Caf\u00e9 release")).encode("latin-1"))
    s.write(shipped, s.meta("tp-good"))
    library = load_library(shipped)
    problem = only_problem(library.problems)
    assert problem.field == "file" and "not valid UTF-8" in problem.message
    assert "0xe9" in problem.message
    assert library.get("tp-good") is not None


def test_a_5_mb_file_is_refused_without_parsing(shipped: Path) -> None:
    path = shipped / "trigger_point" / "tp-huge.md"
    path.parent.mkdir(parents=True)
    path.write_text(s.text(s.meta("tp-huge"), "x" * (5 * 1024 * 1024)))
    s.write(shipped, s.meta("tp-good"))
    library = load_library(shipped)
    problem = only_problem(library.problems)
    assert problem.field == "file"
    assert f"at most {MAX_FILE_BYTES // 1024} KB" in problem.message
    assert library.get("tp-huge") is None and library.get("tp-good") is not None


def test_yaml_alias_bomb_is_reported_briefly(shipped: Path) -> None:
    """Nested aliases make a huge value from a tiny file; messages must not expand it."""
    header = s.text(s.meta("tp-bomb", regions=None)).split("---\n")[1]
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    bomb = "\n".join(levels) + "\nregions: [*i]\n" + header
    problems = load_one(shipped, bomb, name="tp-bomb", folder="trigger_point")
    regions = next(p for p in problems if p.field == "regions")
    assert len(regions.message) < 300
    assert {p.field for p in problems} >= {"a", "i", "regions"}  # unknown fields too


def test_a_file_that_breaks_the_renderer_is_skipped_not_fatal(shipped: Path) -> None:
    problems = load_one(shipped, s.meta("tp-deep-list"), body="- " * 20000 + "x\n")
    problem = only_problem(problems)
    assert problem.field == "file" and "could not be processed" in problem.message


def test_unreadable_file_is_reported(shipped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = s.write(shipped, s.meta("tp-locked"))
    real_open = Path.open

    def deny(self: Path, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    problem = only_problem(load_one(shipped, s.meta("tp-other")))
    assert problem.field == "file" and "cannot be read (Permission denied)" in problem.message


def test_files_outside_a_category_folder_are_reported(shipped: Path) -> None:
    s.write(shipped, s.meta("tp-good"))
    (shipped / "tp-loose.md").write_text(s.text(s.meta("tp-loose")))
    (shipped / "README.md").write_text("# About this folder\n")
    deep = shipped / "trigger_point" / "nested"
    deep.mkdir()
    (deep / "tp-deep.md").write_text(s.text(s.meta("tp-deep")))
    library = load_library(shipped)
    assert len(library) == 1
    assert sorted(Path(p.path).name for p in library.problems) == ["tp-deep.md", "tp-loose.md"]
    assert {p.field for p in library.problems} == {"file"}


def test_missing_library_folder_is_a_problem_missing_clinic_folder_is_not(tmp_path: Path) -> None:
    library = load_library(tmp_path / "nowhere", tmp_path / "no-clinic")
    assert len(library) == 0
    assert only_problem(library.problems).field == "folder"


# --- the clinic's own protocols ----------------------------------------------------------


def test_clinic_protocol_is_added_and_marked(shipped: Path, clinic: Path) -> None:
    s.write(shipped, s.meta("tp-sample"))
    s.write(clinic, s.meta("tp-house-special", title="House special"))
    library = load_library(shipped, clinic)
    assert library.problems == []
    own = library.get("tp-house-special")
    assert own.source == "clinic" and not own.overrides_shipped
    assert library.get("tp-sample").source == "shipped"


def test_clinic_protocol_overrides_a_shipped_id(shipped: Path, clinic: Path) -> None:
    s.write(shipped, s.meta("tp-sample", title="Shipped title"))
    s.write(clinic, s.meta("tp-sample", title="Our own way"))
    library = load_library(shipped, clinic)
    assert len(library) == 1
    p = library.get("tp-sample")
    assert p.title == "Our own way" and p.source == "clinic" and p.overrides_shipped


def test_a_broken_clinic_file_keeps_the_shipped_protocol(shipped: Path, clinic: Path) -> None:
    s.write(shipped, s.meta("tp-sample", title="Shipped title"))
    s.write(clinic, s.meta("tp-sample", title="Broken", regions=["elbow"]))
    library = load_library(shipped, clinic)
    assert library.get("tp-sample").title == "Shipped title"
    assert "clinic" in only_problem(library.problems).path


# --- the shipped library ----------------------------------------------------------------


def test_every_shipped_protocol_validates() -> None:
    library = load_library(SHIPPED)
    assert [str(p) for p in library.problems] == []
    assert len(library) >= 40


def test_shipped_protocols_use_only_existing_codes() -> None:
    for p in load_library(SHIPPED):
        assert p.category in CATEGORIES, p.id
        assert set(p.regions) <= REGIONS.keys(), p.id
        assert set(p.muscles) <= MUSCLES.keys(), p.id
        assert set(p.indications) <= INDICATIONS.keys(), p.id
        assert {c.code for c in p.contraindications} <= CONDITIONS.keys(), p.id
        assert p.contraindications and p.home_care and p.references, p.id


def test_shipped_protocols_render_no_active_content() -> None:
    for p in load_library(SHIPPED):
        for html in (str(p.body_html), str(p.home_care_html)):
            assert "<script" not in html and "<img" not in html and "javascript:" not in html


# --- the app: loaded at start-up, reloadable, checked from the command line ---------------


@pytest.fixture
def bare_app(tmp_path: Path) -> Flask:
    """An app whose database is never touched: enough for the library and the CLI."""
    return create_app(base_config(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path))


def test_app_loads_the_library_once_at_start_up(bare_app: Flask) -> None:
    with bare_app.app_context():
        library = get_library()
        assert library is get_library() and len(library) >= 40
        assert library.problems == []


def test_bad_files_are_logged_and_the_app_still_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clinic_dir = tmp_path / "clinic-protocols"
    s.write(clinic_dir, s.meta("tp-broken", regions=["elbow"]))
    with caplog.at_level(logging.WARNING):
        app = create_app(base_config(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path))
    assert "Protocol file skipped" in caplog.text and "tp-broken.md: regions:" in caplog.text
    with app.app_context():
        assert get_library().get("tp-broken") is None
        assert len(get_library()) >= 40


def test_reload_library_picks_up_new_clinic_files(bare_app: Flask) -> None:
    s.write(Path(bare_app.config["CLINIC_PROTOCOLS_DIR"]), s.meta("tp-house-special"))
    with bare_app.app_context():
        assert get_library().get("tp-house-special") is None
        reload_library(bare_app)
        assert get_library().get("tp-house-special").source == "clinic"


def test_check_command_passes_on_the_shipped_library(bare_app: Flask) -> None:
    result = bare_app.test_cli_runner().invoke(args=["protocols", "check"])
    assert result.exit_code == 0, result.output
    assert "0 problem(s)" in result.output


def test_check_command_fails_on_a_broken_clinic_folder(bare_app: Flask) -> None:
    clinic_dir = Path(bare_app.config["CLINIC_PROTOCOLS_DIR"])
    s.write(clinic_dir, s.meta("tp-broken", regions=["elbow"], duration_minutes=500))
    (clinic_dir / "trigger_point" / "tp-garbled.md").write_bytes(b"---\nid: [\n---\nbody\n")
    result = bare_app.test_cli_runner().invoke(args=["protocols", "check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(
        line.endswith("tp-broken.md: regions: unknown region code(s): elbow (see app/vocab.py)")
        for line in lines
    )
    assert any("tp-broken.md: duration_minutes: " in line for line in lines)
    assert any("tp-garbled.md: front matter: malformed YAML" in line for line in lines)
    assert lines[-1].endswith("3 problem(s) in 2 file(s).")


def test_list_command_lists_ids_and_content_versions(bare_app: Flask) -> None:
    s.write(Path(bare_app.config["CLINIC_PROTOCOLS_DIR"]), s.meta("tp-house-special"))
    result = bare_app.test_cli_runner().invoke(args=["protocols", "list"])
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.output.splitlines()]
    assert len(rows) >= 41
    own = next(r for r in rows if r[0] == "tp-house-special")
    assert own[1:3] == ["trigger_point", "clinic"] and own[3].startswith("1-")
