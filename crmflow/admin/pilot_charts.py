"""Charts of a pilot's figures (`kpi pilot`): one small bar chart per KPI, as ECharts options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["pilot_charts"]

#: bar colours: pilot, rest, pilot before, pilot after
_COLOURS = ("#1f6feb", "#8c959f", "#9ecbff", "#0b4aa2")


def _scaled(value: Any, unit: str | None) -> float | None:
    if not isinstance(value, int | float):
        return None
    return round(value * 100, 1) if unit == "fraction" else round(float(value), 2)


def pilot_charts(figure: dict[str, Any], _: Callable[..., str]) -> list[dict[str, Any]]:
    """One chart per KPI with a value: the pilot against the rest (same period), and the
    pilot before against after its start when the rollout gives one.

    Each item is ``{"key", "unit", "summary", "option"}``: ``option`` is the ECharts
    option the page's script draws, ``summary`` the same numbers as text (for
    screen readers). Fractions are drawn as percentages. KPIs without any value in
    any of the bars are left out (the table beside the charts still lists them).
    """
    units: dict[str, str | None] = figure.get("units") or {}
    sides: list[tuple[str, dict[str, Any]]] = [
        (_("Pilot"), figure.get("pilot") or {}),
        (_("Rest"), figure.get("rest") or {}),
    ]
    if figure.get("before") and figure.get("after"):
        sides += [
            (_("Pilot before"), figure["before"].get("pilot") or {}),
            (_("Pilot after"), figure["after"].get("pilot") or {}),
        ]
    charts = []
    for key in figure.get("pilot") or {}:
        if key.endswith(("_p50", "_p90")):
            continue
        unit = units.get(key)
        values = [_scaled(side.get(key), unit) for _label, side in sides]
        if all(v is None for v in values):
            continue
        suffix = " %" if unit == "fraction" else ""
        summary = ", ".join(
            f"{label} {'–' if v is None else f'{v}{suffix}'}"
            for (label, _side), v in zip(sides, values, strict=True)
        )
        option = {
            "animation": False,
            "grid": {"left": 44, "right": 8, "top": 24, "bottom": 34},
            "tooltip": {"trigger": "axis"},
            # "Pilot before" on two lines: four labels fit a narrow chart
            "xAxis": {"type": "category", "data": [label.replace(" ", "\n", 1)
                                                   for label, _side in sides],
                      "axisLabel": {"interval": 0, "fontSize": 10}},
            "yAxis": {"type": "value", "axisLabel": {"formatter": "{value}" + suffix}},
            "series": [{
                "type": "bar", "name": key,
                "data": [
                    {"value": "-" if v is None else v,
                     "itemStyle": {"color": _COLOURS[i]}}
                    for i, v in enumerate(values)
                ],
                "label": {"show": True, "position": "top", "formatter": "{c}" + suffix},
            }],
        }  # fmt: skip
        charts.append({"key": key, "unit": unit, "summary": summary, "option": option})
    return charts
