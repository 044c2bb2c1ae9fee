"""Forecast accuracy and bias against the lag-1 snapshot, on October 2026."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from crmflow.plugins.kpi import kpi_report

from .kpi_data import KpiEngine, load_forecasts

OCT = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))

# Actual October demand (lines requested in October, cancelled ones out):
# P1 10 + 2 = 12, P2 4, P3 5 + 1 = 6, P9 0. Forecasts (kpi_data.load_forecasts):
# P1 10, P2 6, P3 3, P9 5. Σ|A − F| = 2 + 2 + 3 + 5 = 12, ΣA = 22, Σ(F − A) = 2.


def test_accuracy_is_one_minus_wape_and_bias_is_signed(month: KpiEngine) -> None:
    load_forecasts(month)
    report = kpi_report(month, *OCT)
    assert report["forecast_accuracy"] == pytest.approx(1 - 12 / 22, abs=1e-6)
    assert report["forecast_bias"] == pytest.approx(2 / 22, abs=1e-6)
    assert report["details"]["forecast_accuracy"] == {
        "numerator": 12, "denominator": 22, "count": 4,
    }  # fmt: skip


def test_forecast_parts_add_up_by_family(month: KpiEngine) -> None:
    load_forecasts(month)
    report = kpi_report(month, *OCT, by="family")
    groups = report["by"]["groups"]
    # pumps: |12 − 10| + |4 − 6| over 16; valves: |6 − 3| over 6; P9 has no product
    assert groups["pumps"]["forecast_accuracy"] == 0.75
    assert groups["pumps"]["forecast_bias"] == 0
    assert groups["valves"]["forecast_accuracy"] == 0.5
    assert groups["valves"]["forecast_bias"] == -0.5
    assert groups["(none)"]["forecast_accuracy"] is None  # ΣA = 0
    parts = [g["details"]["forecast_accuracy"] for g in groups.values()
             if "forecast_accuracy" in g["details"]]  # fmt: skip
    assert sum(p["numerator"] for p in parts) == 12
    assert sum(p["denominator"] for p in parts) == 22
    # forecasts are per SKU: there is nothing to split by department
    by_dept = kpi_report(month, *OCT, by="department")["by"]["groups"]
    assert all(g["forecast_accuracy"] is None for g in by_dept.values())


def test_the_month_begins_in_the_factory_time_zone(month: KpiEngine) -> None:
    # 23:30 UTC on Sep 30 is before October in UTC, but 01:30 on Oct 1 in Berlin.
    load_forecasts(month, [("2026-09-30T23:30", "P2", 4.0)])
    assert kpi_report(month, *OCT)["forecast_accuracy"] == pytest.approx(1 - 10 / 22, abs=1e-6)
    month.factory.timezone = ZoneInfo("Europe/Berlin")
    assert kpi_report(month, *OCT)["forecast_accuracy"] == pytest.approx(1 - 12 / 22, abs=1e-6)


def test_only_whole_months_of_the_period_count(month: KpiEngine) -> None:
    load_forecasts(month)
    report = kpi_report(month, dt.date(2026, 10, 1), dt.date(2026, 10, 20))
    assert report["forecast_accuracy"] is None
    assert report["forecast_bias"] is None
    quarter = kpi_report(month, dt.date(2026, 9, 1), dt.date(2026, 12, 1))
    assert quarter["forecast_accuracy"] == pytest.approx(1 - 12 / 22, abs=1e-6)
