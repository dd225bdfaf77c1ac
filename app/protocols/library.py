"""Load the protocol library from Markdown files into memory, once per process.

Two sources: the shipped library (``protocols/`` in the repository) and a
clinic's own protocols (``instance/protocols/``). Files live at
``<category>/<id>.md``. A file that fails validation becomes a ``LoadProblem``
and is skipped; the rest load. A clinic file replaces a shipped protocol of
the same id. Markdown is rendered to sanitised HTML here, at load time, so
requests only print it.

Parsing and rendering every file costs a few hundred milliseconds, so the
results are also kept on disk (``cache.LibraryCache``), keyed by each file's
SHA-256 and by the code that parses them: a new process re-reads and hashes the
files but renders only those that changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

from markupsafe import Markup

from app.protocols import schema
from app.protocols.cache import LibraryCache
from app.protocols.search import SearchIndex
from app.vocab import CATEGORIES, CONDITIONS, Term

MAX_FILE_BYTES = 256 * 1024
Source = Literal["shipped", "clinic"]
FRONT_MATTER_RE = re.compile(
    r"\A---[ \t]*\r?\n(?P<meta>.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)(?P<body>.*)\Z",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class Contraindication:
    code: str
    note: str = ""

    @property
    def label(self) -> str:
        term = CONDITIONS.get(self.code)
        return term.label if term else self.code


@dataclass(frozen=True)
class Reference:
    title: str = ""
    url: str = ""
    citation: str = ""


@dataclass(frozen=True)
class Protocol:
    """One validated library entry, with its Markdown already rendered."""

    id: str
    title: str
    category: str
    summary: str
    regions: tuple[str, ...]
    muscles: tuple[str, ...]
    indications: tuple[str, ...]
    absolute: tuple[Contraindication, ...]
    relative: tuple[Contraindication, ...]
    sensitive_area: bool
    red_flag_screen: bool
    duration_minutes: int
    version: str
    content_version: str
    references: tuple[Reference, ...]
    home_care: str
    body: str
    home_care_html: Markup = field(repr=False, compare=False)
    body_html: Markup = field(repr=False, compare=False)
    source: Source = "shipped"
    overrides_shipped: bool = False
    path: str = ""

    @property
    def category_term(self) -> Term:
        return CATEGORIES[self.category]

    @property
    def contraindications(self) -> tuple[Contraindication, ...]:
        return self.absolute + self.relative


@dataclass(frozen=True)
class LoadProblem:
    """Why one file was skipped: its path, the field at fault and what is wrong."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


@dataclass
class Library:
    """Every loaded protocol by id, the problems met on the way, and a search index."""

    protocols: dict[str, Protocol]
    problems: list[LoadProblem]
    index: SearchIndex = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = SearchIndex(self.protocols.values())

    def __len__(self) -> int:
        return len(self.protocols)

    def __iter__(self) -> Iterator[Protocol]:
        return iter(self.protocols.values())

    def get(self, protocol_id: str) -> Protocol | None:
        return self.protocols.get(protocol_id)

    def used_codes(self) -> dict[str, set[str]]:
        """The category, region, muscle and indication codes some protocol uses."""
        used: dict[str, set[str]] = {
            "category": set(),
            "region": set(),
            "muscle": set(),
            "indication": set(),
        }
        for p in self.protocols.values():
            used["category"].add(p.category)
            used["region"].update(p.regions)
            used["muscle"].update(p.muscles)
            used["indication"].update(p.indications)
        return used

    def by_category(
        self, protocols: list[Protocol] | None = None
    ) -> list[tuple[Term, list[Protocol]]]:
        """Protocols grouped by category, in vocabulary order, each group by title."""
        chosen = self.protocols.values() if protocols is None else protocols
        groups: dict[str, list[Protocol]] = {code: [] for code in CATEGORIES}
        for protocol in chosen:
            groups[protocol.category].append(protocol)
        return [
            (CATEGORIES[code], sorted(items, key=lambda p: p.title.casefold()))
            for code, items in groups.items()
            if items
        ]


@cache
def _strict_loader() -> type:
    """Safe YAML that refuses a key given twice (built on first use: PyYAML loads slowly)."""
    import yaml

    base = yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader

    class StrictLoader(base):  # type: ignore[misc,valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, str) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice", key_node.start_mark
                    )
                seen.add(key if isinstance(key, str) else id(key_node))
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


class _Skip(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path) -> tuple[bytes, str]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # bounded, even if the file grows meanwhile
    except OSError as exc:
        raise _Skip("file", f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        size = max(path.stat().st_size, len(data))
        raise _Skip(
            "file",
            f"is {size / 1024:,.0f} KB; a protocol file may be at most {MAX_FILE_BYTES // 1024} KB",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Skip(
            "file", f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return data, text.removeprefix("\ufeff")


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER_RE.match(text)
    if not match:
        raise _Skip(
            "front matter",
            "the file must start with a `---` line and close the header with another `---` line",
        )
    import yaml

    try:
        meta = yaml.load(match["meta"], Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _Skip("front matter", f"malformed YAML{where}: {reason}") from None
    if not isinstance(meta, dict):
        raise _Skip("front matter", "must be a YAML mapping of field: value")
    return meta, match["body"]


# Parsed files by (path, source, sha256): a second app in the same process (the
# tests build one per test) re-reads and hashes the files but renders nothing.
_parsed: dict[tuple[str, str, str], tuple[Protocol | None, tuple[LoadProblem, ...]]] = {}
_PARSED_LIMIT = 4096
Parsed = tuple[Protocol | None, tuple[LoadProblem, ...]]


def _encode(parsed: Parsed) -> dict[str, Any]:
    """A parsed file as JSON-ready data (for the disk cache)."""
    protocol, problems = parsed
    data = None
    if protocol is not None:
        data = {f.name: getattr(protocol, f.name) for f in fields(Protocol)}
        for name in ("absolute", "relative"):
            data[name] = [[c.code, c.note] for c in data[name]]
        data["references"] = [[r.title, r.url, r.citation] for r in data["references"]]
        data["home_care_html"], data["body_html"] = (
            str(data["home_care_html"]),
            str(data["body_html"]),
        )
    return {"protocol": data, "problems": [[p.path, p.field, p.message] for p in problems]}


def _decode(data: dict[str, Any]) -> Parsed:
    """The inverse of ``_encode``."""
    problems = tuple(LoadProblem(*p) for p in data["problems"])
    raw = data["protocol"]
    if raw is None:
        return None, problems
    values = dict(raw)
    for name in ("regions", "muscles", "indications"):
        values[name] = tuple(values[name])
    for name in ("absolute", "relative"):
        values[name] = tuple(Contraindication(*c) for c in values[name])
    values["references"] = tuple(Reference(*r) for r in values["references"])
    # Rendered and sanitised by render_markdown before it was stored.
    values["home_care_html"] = Markup(values["home_care_html"])  # noqa: S704
    values["body_html"] = Markup(values["body_html"])  # noqa: S704
    return Protocol(**values), problems


_disk = LibraryCache(_encode, _decode)


def _protocol(path: Path, source: Source) -> tuple[Protocol | None, tuple[LoadProblem, ...]]:
    """Read one file: a Protocol, or the problems that skip it."""
    shown = display_path(path)
    try:
        data, text = _read(path)
    except _Skip as skip:
        return None, (LoadProblem(shown, skip.field, skip.message),)
    digest = hashlib.sha256(data).hexdigest()
    key = (shown, source, digest)
    if key not in _parsed:
        if len(_parsed) >= _PARSED_LIMIT:
            _parsed.clear()
        cached = _disk.get(key)
        if cached is not None:
            _parsed[key] = cached
            return cached
        try:
            _parsed[key] = _parse(path, text, digest, source, shown)
        except Exception as exc:  # one hostile file must never stop the app from starting
            message = f"could not be processed ({type(exc).__name__}); simplify the file"
            _parsed[key] = None, (LoadProblem(shown, "file", message),)
        _disk.put(key, _parsed[key])
    return _parsed[key]


def _parse(
    path: Path, text: str, digest: str, source: Source, shown: str
) -> tuple[Protocol | None, tuple[LoadProblem, ...]]:
    """Validate the header and render the Markdown of one decoded file."""
    from app.markdown import render_markdown  # imported only when a file needs rendering

    try:
        meta, body = _front_matter(text)
    except _Skip as skip:
        return None, (LoadProblem(shown, skip.field, skip.message),)
    clean, found = schema.validate(meta, stem=path.stem, folder=path.parent.name)
    if not body.strip():
        found.append(("body", "the procedure (Markdown after the header) is empty"))
    if found:
        return None, tuple(LoadProblem(shown, name, message) for name, message in found)
    version = clean["version"] or "1"
    contra = clean["contraindications"]
    return Protocol(
        id=clean["id"], title=clean["title"], category=clean["category"], summary=clean["summary"],
        regions=clean["regions"], muscles=clean["muscles"], indications=clean["indications"],
        absolute=tuple(Contraindication(c, n) for c, n in contra["absolute"]),
        relative=tuple(Contraindication(c, n) for c, n in contra["relative"]),
        sensitive_area=clean["sensitive_area"], red_flag_screen=clean["red_flag_screen"],
        duration_minutes=clean["duration_minutes"], version=version,
        content_version=f"{version}-{digest[:12]}",
        references=tuple(Reference(*ref) for ref in clean["references"]),
        home_care=clean["home_care"], body=body.strip(),
        home_care_html=render_markdown(clean["home_care"]), body_html=render_markdown(body),
        source=source, path=shown,
    ), ()  # fmt: skip


def _files(root: Path) -> tuple[list[Path], list[LoadProblem]]:
    """Every ``<category>/<id>.md`` under ``root``; misplaced Markdown files are problems."""
    files, problems = [], []
    for path in sorted(root.rglob("*.md")):
        parts = path.relative_to(root).parts
        if any(part.startswith((".", "_")) for part in parts) or path.name.lower() == "readme.md":
            continue
        if len(parts) != 2 or not path.is_file():
            message = "a protocol file must sit in a category folder: <category>/<id>.md"
            problems.append(LoadProblem(display_path(path), "file", message))
            continue
        files.append(path)
    return files, problems


def _load_source(root: Path, source: Source) -> tuple[dict[str, Protocol], list[LoadProblem]]:
    protocols: dict[str, Protocol] = {}
    files, problems = _files(root)
    for path in files:
        protocol, found = _protocol(path, source)
        problems.extend(found)
        if protocol is None:
            continue
        if protocol.id in protocols:
            first = protocols[protocol.id].path
            problems.append(
                LoadProblem(
                    protocol.path, "id", f"duplicate id {protocol.id!r}, also used by {first}"
                )
            )
            continue
        protocols[protocol.id] = protocol
    return protocols, problems


def load_library(shipped_dir: Path | str, clinic_dir: Path | str | None = None) -> Library:
    """Read, validate and render both sources; clinic protocols override shipped ids."""
    shipped_dir = Path(shipped_dir)
    problems: list[LoadProblem] = []
    if shipped_dir.is_dir():
        protocols, found = _load_source(shipped_dir, "shipped")
        problems.extend(found)
    else:
        protocols = {}
        problems.append(
            LoadProblem(
                display_path(shipped_dir), "folder", "the protocol library folder does not exist"
            )
        )
    if clinic_dir is not None and Path(clinic_dir).is_dir():
        clinic, found = _load_source(Path(clinic_dir), "clinic")
        problems.extend(found)
        for protocol_id, protocol in clinic.items():
            if protocol_id in protocols:
                protocol = replace(protocol, overrides_shipped=True)
            protocols[protocol_id] = protocol
    return Library(protocols, problems)
