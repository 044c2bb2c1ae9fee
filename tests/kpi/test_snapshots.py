"""Snapshots, trends, the cron schedule and threshold events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow.errors import ConfigError
from crmflow.plugins.kpi import kpi_report, read_trend, run_due_snapshots, take_snapshot
from crmflow.plugins.kpi.periods import Period
from crmflow.plugins.kpi.schedule import snapshot_and_check

from .kpi_data import KpiEngine, load_month, make_factory

OCT = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def _engine(tmp_path: Path, **settings: object) -> KpiEngine:
    engine = KpiEngine(f"sqlite:///{tmp_path / 'snap.sqlite3'}", make_factory(**settings))
    load_month(engine)
    return engine


def _rows(engine: KpiEngine) -> list[tuple]:
    with engine.db.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT kpi, period_start, period_end, dimension, dimension_value, value,"
                " numerator, denominator, sample_size FROM kpi_snapshots"
                " ORDER BY kpi, dimension, dimension_value"
            )
        ).all()


def test_a_snapshot_stores_every_key_for_the_total_and_each_group(month: KpiEngine) -> None:
    result = take_snapshot(month, OCT, kind="month", dimensions=["department"])
    rows = _rows(month)
    # 13 keys for the total and for each of north, south, (none)
    assert result.rows == len(rows) == 13 * 4
    total = {r.kpi: r for r in rows if r.dimension is None}
    assert total["line_fill_rate"].value == 0.6
    assert (total["line_fill_rate"].numerator, total["line_fill_rate"].denominator) == (3, 5)
    assert total["delivery_lead_time_days_p50"].value == 20
    assert total["forecast_accuracy"].value is None
    north = {r.kpi: r for r in rows if r.dimension_value == "north"}
    assert north["order_fill_rate"].value == 0


def test_a_stored_snapshot_equals_the_live_figures_and_recomputing_changes_nothing(
    month: KpiEngine,
) -> None:
    take_snapshot(month, OCT, kind="month")
    first = _rows(month)
    month.clock += dt.timedelta(days=40)
    take_snapshot(month, OCT, kind="month")
    assert _rows(month) == first
    live = kpi_report(month, OCT.start, OCT.end, by="family")
    stored = {(r.kpi, r.dimension_value): r.value for r in first}
    assert stored[("unit_fill_rate", "valves")] == live["by"]["groups"]["valves"]["unit_fill_rate"]
    assert stored[("inventory_turnover", "pumps")] == 2.1  # every delivered unit counts


def test_trends_read_stored_periods_oldest_first(month: KpiEngine) -> None:
    sep = Period(dt.date(2026, 9, 1), dt.date(2026, 10, 1))
    take_snapshot(month, OCT, kind="month", dimensions=[])
    take_snapshot(month, sep, kind="month", dimensions=[])
    trend = read_trend(month, "on_time_delivery")
    assert [(t["from"], t["value"]) for t in trend] == [
        ("2026-09-01", None),  # nothing completed in September
        ("2026-10-01", pytest.approx(4 / 6, abs=1e-6)),
    ]
    assert read_trend(month, "on_time_delivery", limit=1)[0]["from"] == "2026-10-01"


def test_trends_of_a_breakdown_give_each_group(month: KpiEngine) -> None:
    take_snapshot(month, OCT, kind="month", dimensions=["department"])
    trend = read_trend(month, "line_fill_rate", dimension="department")
    groups = {t["group"]: t["value"] for t in trend}
    assert groups == {"north": 0.5, "south": 0.666667, "(none)": None}
    one = read_trend(month, "line_fill_rate", dimension="department", group="north")
    assert [t["value"] for t in one] == [0.5]


def test_the_schedule_runs_each_cron_occurrence_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path, snapshot_cron="0 6 1 * *", snapshot_by=["family"])
    # Before 06:00 on Nov 1 the due occurrence is Oct 1: it stores September.
    early = run_due_snapshots(engine, dt.datetime(2026, 11, 1, 5, 0, tzinfo=dt.UTC))
    assert [r["period"]["from"] for r in early] == ["2026-09-01"]
    assert run_due_snapshots(engine, dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)) == []
    done = run_due_snapshots(engine, dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC))
    assert [(r["period"]["from"], r["dimensions"]) for r in done] == [("2026-10-01", ["family"])]
    assert run_due_snapshots(engine, dt.datetime(2026, 11, 20, tzinfo=dt.UTC)) == []
    assert read_trend(engine, "line_fill_rate")[-1]["value"] == 0.6


def test_missed_occurrences_are_coalesced_into_one_run(tmp_path: Path) -> None:
    engine = _engine(tmp_path, snapshot_cron="0 6 * * 1", snapshot_periods=["week", "month"])
    done = run_due_snapshots(engine, dt.datetime(2026, 11, 12, tzinfo=dt.UTC))
    # the last Monday 06:00 before Nov 12 is Nov 9: the week before it and October
    assert [(r["kind"], r["period"]["from"]) for r in done] == [
        ("week", "2026-11-02"),
        ("month", "2026-10-01"),
    ]


def test_schedule_settings_are_checked(tmp_path: Path) -> None:
    bad = _engine(tmp_path, snapshot_cron="every day")
    with pytest.raises(ConfigError, match="snapshot_cron"):
        run_due_snapshots(bad, dt.datetime(2026, 11, 12, tzinfo=dt.UTC))
    bad.factory.plugins = {"kpi": {"snapshot_cron": None}}
    assert run_due_snapshots(bad, dt.datetime(2026, 11, 12, tzinfo=dt.UTC)) == []


def test_a_crossed_threshold_raises_an_event_once(tmp_path: Path) -> None:
    engine = _engine(
        tmp_path,
        thresholds={
            "order_fill_rate": {"below": 0.9},
            "rush_response_hours": {"above": 4},
            "line_fill_rate": {"below": 0.7, "by": "department"},
        },
    )
    _, events = snapshot_and_check(engine, OCT, kind="month", dimensions=["department"])
    crossed = {(e["kpi"], e["group"]): e for e in events}
    assert set(crossed) == {
        ("order_fill_rate", None),
        ("line_fill_rate", None),
        ("line_fill_rate", "north"),
        ("line_fill_rate", "south"),
    }
    event = crossed[("order_fill_rate", None)]
    assert event["value"] == 0.5 and event["threshold"] == 0.9
    assert event["period"] == {"from": "2026-10-01", "to": "2026-11-01"}
    assert [e[0] for e in engine.events] == ["kpi.threshold_crossed"] * 4
    snapshot_and_check(engine, OCT, kind="month", dimensions=["department"])
    assert len(engine.events) == 4  # same keys: not delivered twice


def test_a_threshold_over_several_periods_needs_each_of_them_crossed(tmp_path: Path) -> None:
    engine = _engine(tmp_path, thresholds={"order_fill_rate": {"below": 0.9, "periods": 2}})
    _, events = snapshot_and_check(engine, OCT, kind="month", dimensions=[])
    assert events == []  # September has no stored snapshot
    sep = Period(dt.date(2026, 9, 1), dt.date(2026, 10, 1))
    take_snapshot(engine, sep, kind="month", dimensions=[])
    # September: O4 was due 09-25 with 4 of 10 delivered, so its fill rate is 0
    _, events = snapshot_and_check(engine, OCT, kind="month", dimensions=[])
    assert [(e["kpi"], e["value"], e["periods"]) for e in events] == [("order_fill_rate", 0.5, 2)]
    with engine.db.begin() as conn:  # had September been good, October alone is not enough
        conn.execute(
            sa.text("UPDATE kpi_snapshots SET value = 0.95 WHERE kpi = 'order_fill_rate'"
                    " AND period_start = '2026-09-01'")
        )
    assert snapshot_and_check(engine, OCT, kind="month", dimensions=[])[1] == []


def test_thresholds_need_a_direction(tmp_path: Path) -> None:
    engine = _engine(tmp_path, thresholds={"order_fill_rate": {"under": 0.9}})
    with pytest.raises(ConfigError, match="below"):
        snapshot_and_check(engine, OCT, kind="month", dimensions=[])
