"""KPI tiles: each KPI's value, stored trend, target, threshold and the pilot against the rest."""

from __future__ import annotations

from typing import Any

from crmflow.errors import ConfigError
from crmflow.plugins.kpi.pilot import pilot_comparison
from crmflow.plugins.kpi.schedule import thresholds
from crmflow.plugins.kpi.service import engine_kpis, kpi_report, settings_of
from crmflow.plugins.kpi.snapshots import read_trend

from .cache import cache_of
from .selection import Selection

__all__ = ["kpi_tiles", "targets_of"]


def targets_of(engine: Any) -> dict[str, float]:
    """The factory's ``kpi_targets`` setting (``{order_fill_rate: 0.95, …}``), checked."""
    raw = (getattr(engine, "settings", None) or {}).get("kpi_targets") or {}
    if not isinstance(raw, dict):
        raise ConfigError("settings.kpi_targets must map KPI keys to numbers")
    out = {}
    for key, value in raw.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"settings.kpi_targets.{key} must be a number") from None
    return out


def _group(sel: Selection) -> tuple[str | None, str | None]:
    for dim in ("sku", "family", "segment", "department"):
        value = getattr(sel, dim)
        if value:
            return dim, value
    return None, None


def kpi_tiles(engine: Any, sel: Selection) -> dict[str, Any]:
    """One tile per KPI key of kpis.md (and any plugin's), for the selection's period and group.

    ``value`` is what `crmflow kpi --json --from --to [--by]` reports (the
    selection's narrowest filter as the group); ``trend`` the stored monthly
    snapshots of the same group; ``pilot`` and ``rest`` when departments
    have a ``pilot_start``.
    """
    dim, group = _group(sel)

    def report() -> dict[str, Any]:
        return kpi_report(engine, sel.start, sel.end, dim)

    rep = cache_of(engine).get(("kpi", sel.start, sel.end, dim, sel.today), ("kpi",), report)
    values = rep if dim is None else (rep.get("by") or {}).get("groups", {}).get(group, {})
    pilot = _pilot(engine, sel)
    limits = {t.kpi: t for t in thresholds(settings_of(engine))}
    targets = targets_of(engine)
    units = rep.get("units", {})
    tiles = []
    for spec in engine_kpis(engine):
        th = limits.get(spec.key)
        trend = cache_of(engine).get(
            ("trend", spec.key, dim, group), ("kpi",),
            lambda key=spec.key: read_trend(engine, key, kind="month", dimension=dim,
                                            group=group, limit=12),
        )  # fmt: skip
        tiles.append({
            "key": spec.key, "unit": spec.unit or units.get(spec.key),
            "value": values.get(spec.key),
            "extras": {k: values.get(k) for k in spec.keys[1:]},
            "target": targets.get(spec.key),
            "threshold": None if th is None else {"direction": th.direction, "limit": th.limit},
            "breached": bool(th and th.crossed(values.get(spec.key))),
            "trend": [{"from": t["from"], "value": t["value"]} for t in trend],
            "pilot": None if pilot is None else pilot["pilot"].get(spec.key),
            "rest": None if pilot is None else pilot["rest"].get(spec.key),
        })  # fmt: skip
    return {"period": rep["period"], "group": {"dimension": dim, "value": group},
            "tiles": tiles, "pilot_departments": None if pilot is None else
            pilot["pilot_departments"]}  # fmt: skip


def _pilot(engine: Any, sel: Selection) -> dict[str, Any] | None:
    departments = getattr(engine.factory, "departments", None) or []
    if not any(getattr(d, "pilot_start", None) for d in departments):
        return None
    return cache_of(engine).get(
        ("pilot", sel.start, sel.end, sel.today), ("kpi",),
        lambda: pilot_comparison(engine, (), sel.start, sel.end),
    )  # fmt: skip
