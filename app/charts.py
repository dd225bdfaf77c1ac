"""Small server-rendered SVG charts (no JavaScript), used on pages and in PDFs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape


@dataclass(frozen=True)
class PainPoint:
    day: date
    before: int | None
    after: int | None


def pain_trend_svg(points: Sequence[PainPoint], width: int = 640, height: int = 220) -> Markup:
    """NPRS before (solid line, circles) and after (dashed line, squares) each visit.

    Readable without colour: the two series differ by line style and marker shape,
    every point is labelled with its value, and a <title>/<desc> describe the chart.
    """
    left, right, top, bottom = 36, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y(v: int) -> float:
        return top + plot_h - v * plot_h / 10

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="pain-trend" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="pt-title pt-desc">',
        '<title id="pt-title">Pain (0–10 NPRS) before and after each visit</title>',
        f'<desc id="pt-desc">{escape(_describe(points))}</desc>',
    ]
    for v in range(0, 11, 2):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#d5dfdd"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#333">{v}</text>'
        )
    for series, dash, marker in (("before", "", "circle"), ("after", "6 4", "square")):
        coords = [
            (x(i), y(v)) for i, p in enumerate(points) if (v := getattr(p, series)) is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="#1d2a2a" stroke-width="2"{dash_attr}/>'
            )
        for i, p in enumerate(points):
            v = getattr(p, series)
            if v is None:
                continue
            cx, cy = x(i), y(v)
            if marker == "circle":
                parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4.5" fill="#1d2a2a"/>')
            else:
                parts.append(
                    f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8" fill="#fff" stroke="#1d2a2a" stroke-width="2"/>'
                )
            dy = -8 if series == "before" else 16
            parts.append(
                f'<text x="{cx + 6:.1f}" y="{cy + dy:.1f}" font-size="10" fill="#1d2a2a">{v}</text>'
            )
    for i, p in enumerate(points):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 16}" font-size="10" text-anchor="middle" fill="#333">'
            f"{p.day.strftime('%b %d')}</text>"
        )
    legend_y = height - 8
    parts.append(
        f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="4" fill="#1d2a2a"/>'
        f'<text x="{left + 14}" y="{legend_y}" font-size="11" fill="#1d2a2a">Before treatment (solid)</text>'
        f'<rect x="{left + 180}" y="{legend_y - 8}" width="8" height="8" fill="#fff" stroke="#1d2a2a" stroke-width="2"/>'
        f'<text x="{left + 194}" y="{legend_y}" font-size="11" fill="#1d2a2a">After treatment (dashed)</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built only from numbers, dates and escaped text


def _describe(points: Sequence[PainPoint]) -> str:
    if not points:
        return "No pain scores recorded yet."
    items = [
        f"{p.day.isoformat()}: before {'–' if p.before is None else p.before}, "
        f"after {'–' if p.after is None else p.after}"
        for p in points
    ]
    return "; ".join(items) + "."
