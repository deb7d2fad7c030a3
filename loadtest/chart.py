#!/usr/bin/env python3
"""Draws a load run's goals as one SVG bar chart: each figure against its goal, green when met, red when not.

    python3 loadtest/chart.py loadtest/results/latest/report.json > chart.svg

report.py writes `chart.svg` beside report.md with `render(report["figures"])`; README.md shows the latest run's.
A figure is a dict: `label`, `value`, `goal`, `unit` ("%" or a unit name) and `better` ("higher" or "lower"); a
figure whose value is None (a phase the run skipped) is left out. Plain SVG with no dependency, so the chart renders
wherever the report is read (GitHub, a browser, an image viewer).
"""
import json
import sys
from html import escape

WIDTH = 760
ROW = 30
LABEL_W = 330
BAR_W = 300
TOP = 46


def _scale(figure):
    """The value that fills a row's whole width: 1.25x the larger of its value and its goal, so the goal line sits
    inside the chart and a figure far past its goal still shows how far. Each row has its own scale: ratios,
    milliseconds and megabytes share no axis."""
    return max(figure["value"], figure["goal"]) * 1.25


def met(figure):
    """Whether the figure reaches its goal."""
    if figure["better"] == "higher":
        return figure["value"] >= figure["goal"]
    return figure["value"] <= figure["goal"]


def _text(value, unit):
    if unit == "%":
        return f"{value * 100:.0f}%"
    return f"{value:,.3g} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def render(figures, title="Goals of the load run"):
    """Returns the SVG document for `figures` (see the module's doc), one row each, drawn against its own goal."""
    figures = [f for f in figures if f.get("value") is not None]
    height = TOP + ROW * len(figures) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13" role="img" '
        f'aria-label="{escape(title)}">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="24" font-size="16" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LABEL_W}" y="40" fill="#555">bar: measured; black line: goal (green: met, red: not met)</text>',
    ]
    for i, f in enumerate(figures):
        y = TOP + ROW * i
        full = _scale(f)
        bar = BAR_W * f["value"] / full
        goal_x = LABEL_W + BAR_W * f["goal"] / full
        colour = "#2e7d32" if met(f) else "#c62828"
        arrow = "≥" if f["better"] == "higher" else "≤"
        out += [
            f'<text x="12" y="{y + 19}">{escape(f["label"])}</text>',
            f'<rect x="{LABEL_W}" y="{y + 6}" width="{bar:.1f}" height="18" fill="{colour}"/>',
            f'<line x1="{goal_x:.1f}" x2="{goal_x:.1f}" y1="{y + 2}" y2="{y + 28}" stroke="#000" stroke-width="2"/>',
            f'<text x="{LABEL_W + BAR_W + 8}" y="{y + 19}">{escape(_text(f["value"], f["unit"]))} '
            f'(goal {arrow} {escape(_text(f["goal"], f["unit"]))})</text>',
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        report = json.load(fh)
    sys.stdout.write(render(report["figures"], f"Load run {report.get('runId', '')} ({report.get('sha', '')[:7]})"))
