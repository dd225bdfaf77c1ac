"""Small server-rendered charts (no JavaScript): SVG for pages, PNG for PDFs."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import pairwise
from typing import Any

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


def describe_pain_trend(points: Sequence[PainPoint]) -> str:
    """The chart in words (the SVG's <desc>, the PNG's alt text)."""
    return _describe(points)


def _describe(points: Sequence[PainPoint]) -> str:
    if not points:
        return "No pain scores recorded yet."
    items = [
        f"{p.day.isoformat()}: before {'–' if p.before is None else p.before}, "
        f"after {'–' if p.after is None else p.after}"
        for p in points
    ]
    return "; ".join(items) + "."


# PNG for PDFs -------------------------------------------------------------------------
# WeasyPrint shapes every <text> of an inline SVG with Pango and draws each element
# itself; this greyscale PNG (Pillow) takes ~25 ms less CPU per 10-visit summary, drawing
# and embedding included. Same chart as pain_trend_svg (date labels kept clear of the
# scores); the legend is left to the caller, as text that can be searched and copied.

_INK, _GRID, _AXIS, _PAPER = 38, 220, 51, 255  # #1d2a2a, #d5dfdd, #333 and white, as grey
_FONT_FILES = (
    "DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)


@cache
def _font(px: int) -> Any:
    from PIL import ImageFont

    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    return ImageFont.load_default(size=px)


def pain_trend_png(
    points: Sequence[PainPoint], width: int = 640, height: int = 210, scale: float = 1.5
) -> bytes:
    """The chart of ``pain_trend_svg``, without its legend, as a greyscale PNG.

    ``width`` × ``height`` is the layout size in CSS pixels; the image has ``scale``
    times as many pixels each way, for print. Lines and markers are drawn at twice that
    and reduced (which smooths them); the text is drawn at the final size.
    """
    from PIL import Image, ImageDraw

    ss = 2  # supersampling of lines and markers
    left, right, top, bottom = 36, 24, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y(v: int) -> float:
        return top + plot_h - v * plot_h / 10

    k = scale * ss
    image = Image.new("L", (round(width * k), round(height * k)), _PAPER)
    draw = ImageDraw.Draw(image)
    for v in range(0, 11, 2):
        draw.line(
            [(left * k, y(v) * k), ((width - right) * k, y(v) * k)], fill=_GRID, width=round(k)
        )
    labels: list[tuple[float, float, str, int, str, int]] = []  # x, y, text, px, anchor, ink
    for series in ("before", "after"):
        coords = [
            (x(i) * k, y(v) * k)
            for i, p in enumerate(points)
            if (v := getattr(p, series)) is not None
        ]
        if len(coords) > 1:
            if series == "before":
                draw.line(coords, fill=_INK, width=round(2 * k), joint="curve")
            else:
                _dashed(draw, coords, dash=6 * k, gap=4 * k, width=round(2 * k))
        for i, p in enumerate(points):
            v = getattr(p, series)
            if v is None:
                continue
            cx, cy = x(i) * k, y(v) * k
            if series == "before":
                r = 4.5 * k
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_INK)
            else:
                h = 4 * k
                box = [cx - h, cy - h, cx + h, cy + h]
                draw.rectangle(box, fill=_PAPER, outline=_INK, width=round(2 * k))
            dy = -8 if series == "before" else 16
            labels.append((x(i) + 6, y(v) + dy, str(v), 10, "ls", _INK))
    image = image.reduce(ss)
    draw = ImageDraw.Draw(image)
    for v in range(0, 11, 2):
        labels.append((left - 6, y(v) + 4, str(v), 11, "rs", _AXIS))
    for i, p in enumerate(points):
        labels.append((x(i), height - 6, p.day.strftime("%b %d"), 10, "ms", _AXIS))
    for lx, ly, text, px, anchor, ink in labels:
        draw.text(
            (lx * scale, ly * scale), text, font=_font(round(px * scale)), fill=ink, anchor=anchor
        )
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _dashed(
    draw: Any, coords: list[tuple[float, float]], dash: float, gap: float, width: int
) -> None:
    """A polyline with a dash pattern that runs on across its corners (like SVG's)."""
    on, left_in_phase = True, dash
    for (x0, y0), (x1, y1) in pairwise(coords):
        length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
        pos = 0.0
        while pos < length:
            step = min(left_in_phase, length - pos)
            if on:
                a, b = pos / length, (pos + step) / length
                draw.line(
                    [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                    fill=_INK, width=width,
                )  # fmt: skip
            pos += step
            left_in_phase -= step
            if left_in_phase <= 0:
                on = not on
                left_in_phase = dash if on else gap
