"""The body chart: an SVG of the body (front, back, head and neck) whose regions
can be marked for pain, trigger points and areas treated.

Marks are data ({region, side, kind, intensity}); this module only draws them.
Each kind has its own fill pattern, so the chart reads without colour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from markupsafe import Markup, escape

from app.vocab import MARK_KINDS, REGIONS, SIDES


@dataclass(frozen=True)
class Shape:
    view: str
    region: str
    side: str
    svg: str  # element name and geometry, e.g. 'ellipse cx="95" cy="40" rx="24" ry="28"'


def _pair(view: str, region: str, left: str, right: str) -> list[Shape]:
    return [Shape(view, region, "left", left), Shape(view, region, "right", right)]


def _rect(x: float, y: float, w: float, h: float) -> str:
    return f'rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4"'


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> str:
    return f'ellipse cx="{cx}" cy="{cy}" rx="{rx}" ry="{ry}"'


# Front view: the patient faces us, so their right side is on our left.
FRONT = [
    Shape("front", "face", "", _ellipse(95, 40, 22, 27)),
    *_pair("front", "jaw", _ellipse(106, 62, 8, 6), _ellipse(84, 62, 8, 6)),
    Shape("front", "neck_anterior", "", _rect(87, 70, 16, 18)),
    *_pair("front", "neck_lateral", _rect(103, 70, 8, 18), _rect(79, 70, 8, 18)),
    *_pair("front", "shoulder", _ellipse(128, 96, 15, 10), _ellipse(62, 96, 15, 10)),
    *_pair("front", "chest", _rect(95, 92, 24, 30), _rect(71, 92, 24, 30)),
    *_pair("front", "chest_wall", _rect(112, 124, 10, 24), _rect(68, 124, 10, 24)),
    Shape("front", "abdomen", "", _rect(79, 124, 32, 44)),
    *_pair("front", "arm", _rect(134, 106, 13, 52), _rect(43, 106, 13, 52)),
    *_pair("front", "forearm_hand", _rect(139, 161, 13, 62), _rect(38, 161, 13, 62)),
    *_pair("front", "upper_inner_thigh", _rect(95, 172, 9, 24), _rect(86, 172, 9, 24)),
    *_pair("front", "thigh", _rect(104, 172, 15, 70), _rect(71, 172, 15, 70)),
    *_pair("front", "leg_foot", _rect(98, 246, 17, 92), _rect(75, 246, 17, 92)),
]

# Back view: we see the patient's back, so their left side is on our left.
BACK = [
    Shape("back", "head", "", _ellipse(295, 38, 22, 25)),
    *_pair("back", "cranial_base", _rect(279, 60, 16, 9), _rect(295, 60, 16, 9)),
    *_pair("back", "neck_posterior", _rect(285, 70, 10, 18), _rect(295, 70, 10, 18)),
    *_pair("back", "shoulder", _ellipse(262, 96, 15, 10), _ellipse(328, 96, 15, 10)),
    *_pair("back", "upper_back", _rect(270, 92, 19, 28), _rect(301, 92, 19, 28)),
    Shape("back", "interscapular", "midline", _rect(289, 92, 12, 40)),
    Shape("back", "mid_back", "", _rect(272, 134, 46, 20)),
    Shape("back", "low_back", "", _rect(276, 156, 38, 16)),
    *_pair("back", "gluteal", _rect(276, 174, 19, 22), _rect(295, 174, 19, 22)),
    *_pair("back", "arm", _rect(243, 106, 13, 52), _rect(334, 106, 13, 52)),
    *_pair("back", "forearm_hand", _rect(238, 161, 13, 62), _rect(339, 161, 13, 62)),
    *_pair("back", "thigh", _rect(275, 198, 19, 46), _rect(296, 198, 19, 46)),
    *_pair("back", "leg_foot", _rect(275, 246, 17, 92), _rect(298, 246, 17, 92)),
]

# Head and neck from behind, enlarged for the work most visits are about.
HEAD_NECK = [
    *_pair(
        "head",
        "head",
        'path d="M500,22 A58,66 0 0,0 500,154 Z"',
        'path d="M500,22 A58,66 0 0,1 500,154 Z"',
    ),
    *_pair("head", "cranial_base", _rect(466, 156, 34, 14), _rect(500, 156, 34, 14)),
    *_pair("head", "neck_posterior", _rect(478, 172, 22, 58), _rect(500, 172, 22, 58)),
    *_pair("head", "neck_lateral", _rect(458, 172, 18, 58), _rect(524, 172, 18, 58)),
    *_pair("head", "shoulder", _ellipse(440, 246, 38, 14), _ellipse(560, 246, 38, 14)),
    *_pair("head", "upper_back", _rect(452, 262, 46, 40), _rect(502, 262, 46, 40)),
]

SHAPES = FRONT + BACK + HEAD_NECK
VIEWS = {"front": ("Front", 95), "back": ("Back", 295), "head": ("Head and neck, from behind", 500)}
KIND_CLASS = {"pain": "mk-pain", "trigger_point": "mk-tp", "treated": "mk-treated"}

_DEFS = """<defs>
<pattern id="bc-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" fill="#fde2dc"/><line x1="0" y1="0" x2="0" y2="6" stroke="#a3221b" stroke-width="2.2"/></pattern>
<pattern id="bc-dots" width="7" height="7" patternUnits="userSpaceOnUse">
<rect width="7" height="7" fill="#fff4db"/><circle cx="3.5" cy="3.5" r="1.9" fill="#7a4b00"/></pattern>
<pattern id="bc-grid" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#dcefe9"/><path d="M0,3 H6" stroke="#22524e" stroke-width="1.4"/></pattern>
</defs>"""


def shape_label(shape: Shape) -> str:
    side = f"{SIDES[shape.side].label.lower()} " if shape.side in ("left", "right") else ""
    return f"{side}{REGIONS[shape.region].label.lower()} ({VIEWS[shape.view][0].lower()})"


def _kinds_by_spot(marks: Iterable[dict]) -> dict[tuple[str, str], set[str]]:
    spots: dict[tuple[str, str], set[str]] = {}
    for mark in marks:
        sides = ("left", "right") if mark.get("side") in ("both", "", None) else (mark["side"],)
        for side in (*sides, "", "midline"):
            spots.setdefault((mark["region"], side), set()).add(mark.get("kind") or "pain")
    return spots


def _element(shape: Shape, label: str, kinds: set[str], interactive: bool) -> str:
    classes = " ".join(["bc-region", *(KIND_CLASS[k] for k in sorted(kinds) if k in KIND_CLASS)])
    marked = (
        ", marked: " + ", ".join(MARK_KINDS[k].label.lower() for k in sorted(kinds))
        if kinds
        else ""
    )
    attrs = f'class="{classes}" data-region="{shape.region}" data-side="{shape.side}"'
    name = escape(label + marked)
    if interactive:
        attrs += f' tabindex="0" role="button" aria-label="Mark {name}"'
    tag = shape.svg.split(" ", 1)[0]
    return f"<{shape.svg} {attrs}><title>{name}</title></{tag}>"


@cache
def _fixed_parts(interactive: bool) -> tuple[str, tuple[tuple[Shape, str, str], ...]]:
    """What does not depend on the marks, drawn once: the titles and side labels, and
    each region unmarked. A chart page shows one body chart; redrawing these ~60 labelled
    shapes each time was most of its cost."""
    head = [_DEFS]
    for title, cx in VIEWS.values():
        head.append(
            f'<text x="{cx}" y="343" text-anchor="middle" class="bc-title">{escape(title)}</text>'
        )
    for label_x, text in ((20, "R"), (170, "L"), (215, "L"), (372, "R"), (420, "L"), (585, "R")):
        head.append(f'<text x="{label_x}" y="16" class="bc-side" aria-hidden="true">{text}</text>')
    shapes = tuple(
        (shape, label, _element(shape, label, set(), interactive))
        for shape in SHAPES
        for label in (shape_label(shape),)
    )
    return "".join(head), shapes


def render_body_chart(
    marks: Iterable[dict], *, interactive: bool = False, chart_id: str = "body-chart"
) -> Markup:
    """The chart as inline SVG; regions are focusable buttons when ``interactive``."""
    spots = _kinds_by_spot(marks)
    head, shapes = _fixed_parts(interactive)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="body-chart" '
        f'viewBox="0 0 600 345" role="group" aria-label="Body chart: front, back, and head and neck">',
        head,
    ]
    for shape, label, unmarked in shapes:
        kinds = spots.get((shape.region, shape.side))
        out.append(_element(shape, label, kinds, interactive) if kinds else unmarked)
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - fixed geometry and escaped vocabulary labels
