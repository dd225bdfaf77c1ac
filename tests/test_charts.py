"""app/charts.py: the pain trend as SVG (pages) and as PNG (PDFs)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image

from app.charts import PainPoint, describe_pain_trend, pain_trend_png, pain_trend_svg

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _points(n: int) -> list[PainPoint]:
    start = date(2026, 3, 2)
    return [
        PainPoint(start + timedelta(days=7 * i), 8 - i % 9, None if i == 3 else max(0, 4 - i))
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [0, 1, 2, 10, 40])
def test_png_is_a_greyscale_png_of_the_layout_size_times_the_scale(n):
    data = pain_trend_png(_points(n))
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.mode == "L"
    assert image.size == (960, 315)  # 640 × 210 CSS px at 1.5×
    darkest, lightest = image.getextrema()
    assert lightest == 255  # white paper
    assert darkest < 80  # grid labels (and the series, when there are points) are drawn


def test_png_scale_and_size():
    image = Image.open(io.BytesIO(pain_trend_png(_points(5), width=400, height=150, scale=2)))
    assert image.size == (800, 300)


def test_png_draws_both_series():
    """More ink with the series than with the axes alone."""

    def ink(points: list[PainPoint]) -> int:
        histogram = Image.open(io.BytesIO(pain_trend_png(points))).histogram()
        return sum(histogram[:128])

    empty = [PainPoint(p.day, None, None) for p in _points(10)]
    before_only = [PainPoint(p.day, p.before, None) for p in _points(10)]
    assert ink(empty) < ink(before_only) < ink(_points(10))


def test_description_is_the_svgs_desc():
    points = _points(3)
    text = describe_pain_trend(points)
    assert (
        text
        == "2026-03-02: before 8, after 4; 2026-03-09: before 7, after 3; 2026-03-16: before 6, after 2."
    )
    assert text in pain_trend_svg(points)
    assert describe_pain_trend([]) == "No pain scores recorded yet."
