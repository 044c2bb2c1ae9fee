"""A factory adds a KPI from another plugin or disables one; the pilot comparison."""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow import hookimpl
from crmflow.errors import ConfigError, NotFoundError, PluginError
from crmflow.plugins.kpi import KpiContext, KpiValue, kpi_report, pilot_comparison, ratio

from .kpi_data import KpiEngine, load_month, make_factory

OCT = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def _rush_share(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Share of the period's orders marked rush."""
    orders = sa.table("orders", sa.column("order_date"), sa.column("priority"))
    n, rush = ctx.conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((orders.c.priority == "rush", 1), else_=0)),
        ).where(orders.c.order_date >= ctx.start, orders.c.order_date < ctx.end)
    ).one()
    return {None: ratio(rush, n)}


def _plugin(name: str, calculator: object) -> types.SimpleNamespace:
    @hookimpl
    def register_kpis(register: object) -> None:
        register(name, calculator, unit="fraction")  # type: ignore[operator]

    return types.SimpleNamespace(__name__=name, register_kpis=register_kpis)


def test_a_kpi_from_another_plugin_is_reported_with_the_built_in_ones(tmp_path: Path) -> None:
    engine = KpiEngine(
        f"sqlite:///{tmp_path / 'k.sqlite3'}",
        make_factory(),
        plugins=(_plugin("rush_share", _rush_share),),
    )
    load_month(engine)
    report = kpi_report(engine, *OCT)
    assert report["rush_share"] == 0  # October's orders are all normal
    assert report["details"]["rush_share"] == {"numerator": 0, "denominator": 5}
    assert report["units"]["rush_share"] == "fraction"
    assert report["line_fill_rate"] == 0.6


def test_a_broken_calculator_names_its_kpi_and_plugin(tmp_path: Path) -> None:
    def broken(ctx: KpiContext) -> dict[str | None, KpiValue]:
        raise ZeroDivisionError("oops")

    engine = KpiEngine(
        f"sqlite:///{tmp_path / 'k.sqlite3'}", make_factory(), plugins=(_plugin("bad", broken),)
    )
    with pytest.raises(PluginError, match="KPI 'bad' of plugin 'bad' failed.*oops"):
        kpi_report(engine, *OCT)


def test_a_factory_disables_a_kpi_by_key(tmp_path: Path) -> None:
    engine = KpiEngine(
        f"sqlite:///{tmp_path / 'k.sqlite3'}",
        make_factory(disable=["rush_response_hours", "forecast_bias"]),
    )
    report = kpi_report(engine, *OCT)
    assert "rush_response_hours" not in report
    assert "rush_response_hours_p90" not in report
    assert "forecast_bias" not in report
    assert "order_fill_rate" in report
    engine.factory.plugins = {"kpi": {"disable": ["fill_rate"]}}
    with pytest.raises(ConfigError, match="unknown KPI"):
        kpi_report(engine, *OCT)


def test_the_default_period_is_the_last_full_month(month: KpiEngine) -> None:
    month.clock = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    assert kpi_report(month)["period"] == {"from": "2026-10-01", "to": "2026-11-01", "days": 31}
    one = kpi_report(month, dt.date(2026, 10, 15))
    assert one["period"] == {"from": "2026-10-15", "to": "2026-11-15", "days": 31}


def test_pilot_departments_against_the_rest_and_before_after_the_start(month: KpiEngine) -> None:
    month.clock = dt.datetime(2026, 11, 14, tzinfo=dt.UTC)
    result = pilot_comparison(month)
    assert result["pilot_departments"] == ["north"]
    assert result["rest_departments"] == ["south"]
    assert result["pilot_start"] == "2026-10-15"
    assert result["period"]["from"] == "2026-10-01"
    # north (alice) against south (bob) and reps in no department (carol)
    assert result["pilot"]["line_fill_rate"] == 0.5
    assert result["rest"]["line_fill_rate"] == 0.666667
    assert result["rest"]["on_time_delivery"] == 1  # O2P2, O7P3, O3P1
    # after: 10-15 .. 11-14 (today), before: the 30 days to 10-15
    assert result["after"]["period"] == {"from": "2026-10-15", "to": "2026-11-14", "days": 30}
    assert result["before"]["period"] == {"from": "2026-09-15", "to": "2026-10-15", "days": 30}
    # before: north's due lines O1P1 (10-10, in full), O1P3 (10-12, not), O4P3 (09-25, not)
    assert result["before"]["pilot"]["line_fill_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert result["after"]["pilot"]["line_fill_rate"] is None  # nothing of north's due


def test_pilot_comparison_needs_a_pilot(month: KpiEngine) -> None:
    with pytest.raises(NotFoundError, match="west"):
        pilot_comparison(month, ["west"])
    named = pilot_comparison(month, ["south"])
    assert named["pilot_departments"] == ["south"] and named["pilot_start"] is None
    assert "after" not in named
    month.factory.departments = []
    with pytest.raises(ConfigError, match="pilot_start"):
        pilot_comparison(month)
