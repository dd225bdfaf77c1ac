"""Protocol files and objects for the protocol-library tests (no database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app.markdown import render_markdown
from app.protocols.library import Contraindication, Protocol, Reference

BODY = """## Positioning

Supine, head on a low pillow.

## Dose

| element | guide |
|---|---|
| hold | 30 to 90 seconds |
"""


def meta(protocol_id: str = "tp-sample", category: str = "trigger_point", **fields: Any) -> dict:
    """A valid front-matter mapping; ``fields`` replace or add keys (None drops one)."""
    data: dict[str, Any] = {
        "id": protocol_id,
        "title": "Sample trigger point release",
        "category": category,
        "summary": "A sample protocol used by the tests.",
        "regions": ["neck_posterior", "shoulder"],
        "muscles": ["upper_trapezius"],
        "indications": ["tension_type_headache", "neck_pain"],
        "contraindications": {
            "absolute": [{"code": "dvt", "note": "Do not treat; refer."}, "fever"],
            "relative": [{"code": "anticoagulants", "note": "Light pressure only."}],
        },
        "sensitive_area": False,
        "red_flag_screen": True,
        "duration_minutes": 15,
        "version": 1,
        "home_care": "Warm pack for **10 minutes**.",
        "references": [
            {"title": "A trial", "url": "https://doi.org/10.1000/example"},
            {"citation": "Author A. A book. 2020."},
        ],
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def text(front: dict | str, body: str = BODY) -> str:
    header = (
        front
        if isinstance(front, str)
        else yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    )
    return f"---\n{header}---\n{body}"


def write(
    root: Path,
    front: dict | str | None = None,
    body: str = BODY,
    *,
    name: str | None = None,
    folder: str | None = None,
) -> Path:
    """Write a protocol file under ``root``/<folder>/<name>.md and return its path."""
    front = meta() if front is None else front
    if isinstance(front, dict):
        name = name or front.get("id", "unnamed")
        folder = folder or front.get("category", "trigger_point")
    path = root / (folder or "trigger_point") / f"{name or 'unnamed'}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text(front, body), encoding="utf-8")
    return path


def protocol(**fields: Any) -> Protocol:
    """A Protocol object built directly, for tests of pure functions."""
    absolute = tuple(
        Contraindication(*c) if isinstance(c, tuple) else Contraindication(c)
        for c in fields.pop("absolute", ())
    )
    relative = tuple(
        Contraindication(*c) if isinstance(c, tuple) else Contraindication(c)
        for c in fields.pop("relative", ())
    )
    body = fields.pop("body", "Steps.")
    values: dict[str, Any] = {
        "id": "tp-sample",
        "title": "Sample release",
        "category": "trigger_point",
        "summary": "Sample.",
        "regions": ("neck_posterior",),
        "muscles": ("upper_trapezius",),
        "indications": ("neck_pain",),
        "absolute": absolute,
        "relative": relative,
        "sensitive_area": False,
        "red_flag_screen": True,
        "duration_minutes": 15,
        "version": "1",
        "content_version": "1-000000000000",
        "references": (Reference(citation="A book."),),
        "home_care": "Rest.",
        "body": body,
        "home_care_html": render_markdown("Rest."),
        "body_html": render_markdown(body),
    }
    values.update(fields)
    return Protocol(**values)
