"""The protocol front-matter schema: one validator per field.

``validate`` turns the parsed YAML mapping of one file into clean values, or
into a list of ``(field, message)`` problems. docs/protocol-format.md is the
human-readable form of this module; change both together.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable
from typing import Any

from app.vocab import CATEGORIES, CONDITIONS, INDICATIONS, MUSCLES, REGIONS, SENSITIVE_REGIONS, Term

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$")
URL_RE = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
MIN_DURATION, MAX_DURATION = 5, 120
MAX_TITLE, MAX_SUMMARY, MAX_NOTE, MAX_ID = 120, 400, 400, 80
# Work on these regions, or any craniosacral technique, needs the S1 red-flag screen.
RED_FLAG_REGIONS = frozenset(
    {"head", "cranial_base", "neck_posterior", "neck_lateral", "neck_anterior"}
)

REQUIRED = (
    "id", "title", "category", "summary", "regions", "indications", "contraindications",
    "sensitive_area", "red_flag_screen", "duration_minutes", "home_care", "references",
)  # fmt: skip
OPTIONAL = ("muscles", "version")


# Values quoted in messages are cut short: YAML aliases can nest a small file into a huge value.
_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 2, 4, 4, 60, 60


def _show(value: Any) -> str:
    return _repr.repr(value)


class Invalid(Exception):
    """One field's value is not acceptable; the message says why."""


Problem = tuple[str, str]


def _text(value: Any, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("must be non-empty text")
    value = value.strip()
    if limit and len(value) > limit:
        raise Invalid(f"is {len(value)} characters long; the limit is {limit}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, not {_show(value)}")
    return value


def _duration(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"must be a whole number of minutes, not {_show(value)}")
    if not MIN_DURATION <= value <= MAX_DURATION:
        raise Invalid(f"must be between {MIN_DURATION} and {MAX_DURATION} minutes, not {value}")
    return value


def _version(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)
    if isinstance(value, str) and VERSION_RE.match(value):
        return value
    raise Invalid(
        f"must be a positive whole number or a short label such as 2.1, not {_show(value)}"
    )


def _codes(
    vocabulary: dict[str, Term], name: str, *, allow_empty: bool
) -> Callable[[Any], tuple[str, ...]]:
    def check(value: Any) -> tuple[str, ...]:
        if value is None and allow_empty:
            return ()
        if not isinstance(value, list):
            raise Invalid("must be a list of codes, e.g. [a_code, another_code]")
        if not value and not allow_empty:
            raise Invalid("must list at least one code")
        unknown = [
            v[:60] if isinstance(v, str) else _show(v)
            for v in value
            if not isinstance(v, str) or v not in vocabulary
        ]
        if unknown:
            raise Invalid(f"unknown {name} code(s): {', '.join(unknown)} (see app/vocab.py)")
        if len(set(value)) != len(value):
            raise Invalid("lists a code more than once")
        return tuple(value)

    return check


def _contraindication(item: Any) -> tuple[str, str]:
    if isinstance(item, str):
        code, note = item, ""
    elif isinstance(item, dict):
        extra = sorted(set(map(str, item)) - {"code", "note"})
        if extra:
            raise Invalid(f"unknown key(s) {', '.join(extra)}; use code and note")
        code, note = item.get("code"), item.get("note") or ""
        if not isinstance(note, str):
            raise Invalid(f"the note for {_show(code)} must be text")
    else:
        raise Invalid(f"each item must be a condition code or {{code, note}}, not {_show(item)}")
    if not isinstance(code, str) or code not in CONDITIONS:
        raise Invalid(f"unknown condition code {_show(code)} (see CONDITIONS in app/vocab.py)")
    if len(note) > MAX_NOTE:
        raise Invalid(f"the note for {code} is longer than {MAX_NOTE} characters")
    return code, note.strip()


def _contraindications(value: Any) -> dict[str, tuple[tuple[str, str], ...]]:
    if not isinstance(value, dict):
        raise Invalid("must be a mapping with `absolute` and `relative` lists")
    extra = sorted(set(map(str, value)) - {"absolute", "relative"})
    if extra:
        raise Invalid(f"unknown key(s) {', '.join(extra)}; use absolute and relative")
    result: dict[str, tuple[tuple[str, str], ...]] = {}
    for kind in ("absolute", "relative"):
        items = value.get(kind) or []
        if not isinstance(items, list):
            raise Invalid(f"`{kind}` must be a list")
        try:
            result[kind] = tuple(_contraindication(item) for item in items)
        except Invalid as exc:
            raise Invalid(f"{kind}: {exc}") from None
    codes = [code for kind in result.values() for code, _ in kind]
    if not codes:
        raise Invalid("must list at least one absolute or relative contraindication")
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise Invalid(
            f"a code is listed twice (or as both absolute and relative): {', '.join(repeated)}"
        )
    return result


def _reference(item: Any) -> tuple[str, str, str]:
    if not isinstance(item, dict):
        raise Invalid(
            f"each reference must be a mapping with title and url, or citation; got {_show(item)}"
        )
    extra = sorted(set(map(str, item)) - {"title", "url", "citation"})
    if extra:
        raise Invalid(f"unknown key(s) {', '.join(extra)}; use title, url, citation")
    title, url, citation = (item.get(k) for k in ("title", "url", "citation"))
    for name, part in (("title", title), ("url", url), ("citation", citation)):
        if part is not None and (not isinstance(part, str) or not part.strip()):
            raise Invalid(f"`{name}` must be non-empty text")
    if url is not None and not URL_RE.match(url.strip()):
        raise Invalid(f"url must start with http:// or https://, not {_show(url)}")
    if not citation and not (title and url):
        raise Invalid("each reference needs a title and url, or a citation")
    return (title or "").strip(), (url or "").strip(), (citation or "").strip()


def _references(value: Any) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(value, list) or not value:
        raise Invalid("must list at least one reference")
    return tuple(_reference(item) for item in value)


FIELDS: dict[str, Callable[[Any], Any]] = {
    "id": lambda v: _text(v, MAX_ID),
    "title": lambda v: _text(v, MAX_TITLE),
    "category": lambda v: _text(v, 60),
    "summary": lambda v: _text(v, MAX_SUMMARY),
    "regions": _codes(REGIONS, "region", allow_empty=False),
    "muscles": _codes(MUSCLES, "muscle", allow_empty=True),
    "indications": _codes(INDICATIONS, "indication", allow_empty=False),
    "contraindications": _contraindications,
    "sensitive_area": _flag,
    "red_flag_screen": _flag,
    "duration_minutes": _duration,
    "version": _version,
    "home_care": lambda v: _text(v),
    "references": _references,
}


def validate(
    meta: dict[str, Any], *, stem: str, folder: str
) -> tuple[dict[str, Any], list[Problem]]:
    """Check every field of ``meta``; return the clean values and the problems found."""
    problems: list[Problem] = []
    clean: dict[str, Any] = {}
    for key in sorted(set(map(str, meta)) - set(REQUIRED) - set(OPTIONAL)):
        problems.append((key, "unknown field (check the spelling against docs/protocol-format.md)"))
    for name, check in FIELDS.items():
        if name not in meta or (meta[name] is None and name in REQUIRED):
            if name in REQUIRED:
                problems.append((name, "required field is missing"))
            else:
                clean[name] = check(None)
            continue
        try:
            clean[name] = check(meta[name])
        except Invalid as exc:
            problems.append((name, str(exc)))
    problems.extend(_cross_checks(clean, stem=stem, folder=folder))
    return clean, problems


def _cross_checks(clean: dict[str, Any], *, stem: str, folder: str) -> list[Problem]:
    """Rules that relate one field to another or to the file's place."""
    problems: list[Problem] = []
    if "id" in clean:
        if not ID_RE.match(clean["id"]):
            problems.append(
                ("id", f"{clean['id']!r} must be lowercase kebab-case, e.g. tp-upper-trapezius")
            )
        elif clean["id"] != stem:
            problems.append(("id", f"{clean['id']!r} must equal the file name ({stem}.md)"))
    if "category" in clean:
        if clean["category"] not in CATEGORIES:
            problems.append(
                (
                    "category",
                    f"unknown category {clean['category']!r} (see CATEGORIES in app/vocab.py)",
                )
            )
        elif clean["category"] != folder:
            problems.append(
                ("category", f"{clean['category']!r} must equal the folder name ({folder}/)")
            )
    sensitive = sorted(set(clean.get("regions", ())) & SENSITIVE_REGIONS)
    if sensitive and clean.get("sensitive_area") is False:
        problems.append(("sensitive_area", f"must be true: regions include {', '.join(sensitive)}"))
    needs_screen = (
        set(clean.get("regions", ())) & RED_FLAG_REGIONS or clean.get("category") == "craniosacral"
    )
    if needs_screen and clean.get("red_flag_screen") is False:
        problems.append(
            ("red_flag_screen", "must be true for neck, head and craniosacral work (S1)")
        )
    return problems
