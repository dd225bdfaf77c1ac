"""Print a results JSON written by ``benchmarks.run`` as a Markdown table (for docs).

python -m benchmarks.report benchmarks/results.json
"""

from __future__ import annotations

import json
import sys

from benchmarks.common import Figure
from benchmarks.run import _shown


def markdown(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    sizes = data["sizes"]
    lines = [
        f"{sizes['small_visits']:,} vs {sizes['large_visits']:,} visits, "
        f"{', '.join(sizes['backends'])}; run of {data['generated_at']} "
        f"({data['seconds']:.0f} s, load average at start "
        f"{', '.join(f'{x:.1f}' for x in data['machine']['load_average_at_start'])}).",
        "",
        "| figure | backend | measured | target | pass |",
        "|---|---|---|---|---|",
    ]
    for raw in data["figures"]:
        figure = Figure(**raw)
        mark = "yes" if figure.passed else ("n/a" if figure.passed is None else "**no**")
        cells = (figure.figure, figure.backend or "–", _shown(figure), figure.target, mark)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += [f"\nNote: {note}" for note in data.get("notes", [])]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(sys.argv[1]))
