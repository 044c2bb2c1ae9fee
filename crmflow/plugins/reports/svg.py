"""Static SVG charts for the review pack (our own, a few hundred lines: no JS, no fonts loaded).

Why our own rather than ECharts' server-side rendering or a Python chart library:
ECharts SSR needs Node at runtime, which the product does not ship; matplotlib adds
~40 MB and about a second of import to every CLI start for two chart kinds; pygal
draws for the browser (its SVG leans on scripts and CSS that WeasyPrint ignores).
Lines, bars, a band and a heat grid are plain SVG that WeasyPrint renders exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["PALETTE", "heat_grid", "series_chart"]

PALETTE = ("#3366cc", "#dc7633", "#8e44ad", "#16a085", "#7f8c8d", "#c0392b")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def series_chart(categories: Sequence[str], series: Sequence[dict[str, Any]], *,
                 width: int = 720, height: int = 260, title: str = "") -> str:  # fmt: skip
    """Lines, bars and bands over categories; each series ``{id, name, kind, data}``.

    ``kind`` is ``line``, ``dashed``, ``bar`` or ``band`` (data of ``(low, high)``
    pairs). None values leave gaps. Every series is a ``<g data-series="id">``.
    """
    left, right, top, bottom = 52, 12, 28, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(categories), 1)
    values: list[float] = []
    for s in series:
        for v in s["data"]:
            if v is None:
                continue
            values.extend(v if isinstance(v, list | tuple) else [v])
    top_value = _nice_max(max([0.0, *values]))
    step = plot_w / n

    def x(i: int) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return top + plot_h - (v / top_value) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="{escape(title)}" font-family="sans-serif" '
           f'font-size="10">']  # fmt: skip
    for k in range(5):
        v = top_value * k / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#e3e3e3"/><text x="{left - 4}" y="{y(v) + 3:.1f}" '
                   f'text-anchor="end" fill="#555">{_fmt(v)}</text>')  # fmt: skip
    every = max(1, math.ceil(n / 12))
    for i, cat in enumerate(categories):
        if i % every == 0:
            out.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                       f'fill="#555">{escape(str(cat)[5:] if len(str(cat)) == 10 else str(cat))}'
                       f'</text>')  # fmt: skip
    bars = [s for s in series if s["kind"] == "bar"]
    bar_w = step * 0.8 / max(len(bars), 1)
    legend_x = left
    for idx, s in enumerate(series):
        color = s.get("color") or PALETTE[idx % len(PALETTE)]
        out.append(f'<g data-series="{escape(s["id"])}">')
        if s["kind"] == "bar":
            b = bars.index(s)
            for i, v in enumerate(s["data"]):
                if v is None or v <= 0:
                    continue
                x0 = x(i) - step * 0.4 + b * bar_w
                out.append(f'<rect x="{x0:.1f}" y="{y(v):.1f}" width="{bar_w:.1f}" '
                           f'height="{top + plot_h - y(v):.1f}" fill="{color}" '
                           f'fill-opacity="0.55"/>')  # fmt: skip
        elif s["kind"] == "band":
            pts = [(i, v) for i, v in enumerate(s["data"]) if v is not None]
            if pts:
                upper = " ".join(f"{x(i):.1f},{y(v[1]):.1f}" for i, v in pts)
                lower = " ".join(f"{x(i):.1f},{y(v[0]):.1f}" for i, v in reversed(pts))
                out.append(f'<polygon points="{upper} {lower}" fill="{color}" '
                           f'fill-opacity="0.18"/>')  # fmt: skip
        else:
            dash = ' stroke-dasharray="5,3"' if s["kind"] == "dashed" else ""
            run: list[str] = []
            for i, v in enumerate([*s["data"], None]):
                if v is None:
                    if len(run) > 1:
                        out.append(f'<polyline points="{" ".join(run)}" fill="none" '
                                   f'stroke="{color}" stroke-width="1.8"{dash}/>')  # fmt: skip
                    elif len(run) == 1:
                        px, py = run[0].split(",")
                        out.append(f'<circle cx="{px}" cy="{py}" r="2" fill="{color}"/>')
                    run = []
                else:
                    run.append(f"{x(i):.1f},{y(v):.1f}")
        out.append("</g>")
        out.append(f'<rect x="{legend_x}" y="{height - 14}" width="10" height="8" '
                   f'fill="{color}"/><text x="{legend_x + 13}" y="{height - 7}" '
                   f'fill="#333">{escape(s["name"])}</text>')  # fmt: skip
        legend_x += 20 + 6 * len(s["name"])
    if title:
        out.append(f'<text x="{left}" y="14" font-size="12" font-weight="bold" '
                   f'fill="#222">{escape(title)}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def _heat(pct: float | None) -> str:
    if pct is None:
        return "#f2f2f2"
    if pct > 100:
        return "#e06c5a"
    if pct >= 85:
        return "#f3d36b"
    return "#9bd3ae"


def heat_grid(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[Any]], *,
              width: int = 720, title: str = "") -> str:  # fmt: skip
    """Load % per row (line) and column (week); over 100 red, 85–100 amber, below green."""
    left, top, cell_h = 60, 30, 18
    cell_w = (width - left - 8) / max(len(columns), 1)
    height = top + cell_h * len(rows) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="{escape(title)}" font-family="sans-serif" '
           f'font-size="9">']  # fmt: skip
    if title:
        out.append(f'<text x="0" y="12" font-size="12" font-weight="bold" fill="#222">'
                   f'{escape(title)}</text>')  # fmt: skip
    for j, col in enumerate(columns):
        out.append(f'<text x="{left + cell_w * (j + 0.5):.1f}" y="{top - 4}" '
                   f'text-anchor="middle" fill="#555">{escape(str(col)[5:])}</text>')  # fmt: skip
    for i, row in enumerate(rows):
        yy = top + i * cell_h
        out.append(f'<text x="{left - 4}" y="{yy + 12}" text-anchor="end" fill="#333">'
                   f'{escape(str(row))}</text><g data-series="{escape(str(row))}">')  # fmt: skip
        for j, pct in enumerate(values[i]):
            xx = left + j * cell_w
            label = "" if pct is None else f"{pct:.0f}"
            out.append(f'<rect x="{xx:.1f}" y="{yy}" width="{cell_w - 1:.1f}" '
                       f'height="{cell_h - 1}" fill="{_heat(pct)}"/><text '
                       f'x="{xx + cell_w / 2:.1f}" y="{yy + 12}" text-anchor="middle" '
                       f'fill="#222">{label}</text>')  # fmt: skip
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
