"""Breakdowns by department, segment, family and SKU: the parts add up to the total."""

from __future__ import annotations

import datetime as dt

import pytest

from crmflow.errors import InputError
from crmflow.plugins.kpi import kpi_report

from .kpi_data import KpiEngine

approx = pytest.approx
OCT = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
RATIOS = ("order_fill_rate", "line_fill_rate", "unit_fill_rate", "on_time_delivery")


def _sum(report: dict, kpi: str, figure: str) -> float:
    return sum(
        g["details"].get(kpi, {}).get(figure, 0) for g in report["by"]["groups"].values()
    )


def test_by_department_groups_orders_by_their_sales_rep(month: KpiEngine) -> None:
    report = kpi_report(month, *OCT, by="department")
    groups = report["by"]["groups"]
    assert report["by"]["dimension"] == "department"
    assert set(groups) == {"north", "south", "(none)"}
    # north (alice): O1 due, not filled; south (bob): O2 and O7 filled, O5 not
    assert groups["north"]["order_fill_rate"] == 0
    assert groups["south"]["order_fill_rate"] == approx(2 / 3, abs=1e-6)
    assert groups["(none)"]["order_fill_rate"] is None  # carol's O3 is not due in October
    # on time: north O1P1 on, O1P3 late, O4P3 late; south O2P2, O7P3 on; carol O3P1 on
    assert groups["north"]["on_time_delivery"] == approx(1 / 3, abs=1e-6)
    assert groups["south"]["on_time_delivery"] == 1
    assert groups["(none)"]["on_time_delivery"] == 1
    # lead times: north O1 24, O4 32; south O2 17, O7 3; carol O3 20
    assert groups["north"]["delivery_lead_time_days"] == 28
    assert groups["south"]["delivery_lead_time_days"] == 10
    # rush: #2 (O1, north) 0.75 h; #1 (O2, south) 3 h, #3 (O5, south) pending; #6 no order
    assert groups["north"]["rush_response_hours"] == 0.75
    assert groups["south"]["rush_response_hours"] == 3
    assert groups["south"]["details"]["rush_response_hours"] == {"count": 1, "pending": 1}
    assert groups["(none)"]["rush_response_hours"] == 4
    # stock is not held per department
    assert groups["north"]["inventory_turnover"] is None


@pytest.mark.parametrize("by", ["department", "segment"])
def test_order_level_parts_add_up_when_each_order_is_in_one_group(
    month: KpiEngine, by: str
) -> None:
    report = kpi_report(month, *OCT, by=by)
    for kpi in RATIOS:
        total = report["details"][kpi]
        assert _sum(report, kpi, "numerator") == approx(total["numerator"]), kpi
        assert _sum(report, kpi, "denominator") == approx(total["denominator"]), kpi
    assert _sum(report, "delivery_lead_time_days", "count") == 5
    assert _sum(report, "rush_response_hours", "count") == 3


@pytest.mark.parametrize("by", ["family", "sku"])
def test_line_level_and_stock_parts_add_up_by_product(month: KpiEngine, by: str) -> None:
    report = kpi_report(month, *OCT, by=by)
    for kpi in ("line_fill_rate", "unit_fill_rate", "on_time_delivery", "inventory_turnover"):
        total = report["details"][kpi]
        assert _sum(report, kpi, "numerator") == approx(total["numerator"]), kpi
        assert _sum(report, kpi, "denominator") == approx(total["denominator"]), kpi


def test_by_family_values(month: KpiEngine) -> None:
    groups = kpi_report(month, *OCT, by="family")["by"]["groups"]
    # rush order #6 names no order, so it has no family
    assert set(groups) == {"pumps", "valves", "(none)"}
    assert [k for k in groups["(none)"]["details"]] == ["rush_response_hours"]
    # pumps: O1P1 in full, O2P2 in full, O5P1 not; valves: O1P3 not, O7P3 in full
    assert groups["pumps"]["line_fill_rate"] == approx(2 / 3, abs=1e-6)
    assert groups["valves"]["line_fill_rate"] == 0.5
    # the part of an order in a family counts as an order of that family: O1's pump
    # line was in full by its own due date (10-10), its valve line was not
    assert groups["pumps"]["order_fill_rate"] == approx(2 / 3, abs=1e-6)
    assert groups["valves"]["order_fill_rate"] == 0.5
    # pumps: cost 100 + 30 (6 delivered) + 80 over (100 + 100) / 2; valves: 10 + 12 + 2
    # over 100 / 2
    assert groups["pumps"]["inventory_turnover"] == approx(2.1)
    assert groups["valves"]["inventory_turnover"] == approx(0.48)
    assert groups["valves"]["days_inventory_outstanding"] == approx(31 / 0.48, abs=1e-5)


def test_by_segment_puts_customers_without_a_segment_under_none(month: KpiEngine) -> None:
    groups = kpi_report(month, *OCT, by="segment")["by"]["groups"]
    assert set(groups) == {"oem", "retail", "(none)"}
    # C3 has no segment; its order O4 completed late in October
    assert groups["(none)"]["on_time_delivery"] == 0
    assert groups["(none)"]["delivery_lead_time_days"] == 32


def test_every_group_reports_every_key(month: KpiEngine) -> None:
    report = kpi_report(month, *OCT, by="sku")
    top = [k for k in report if k not in ("period", "factory", "units", "details", "by")]
    for values in report["by"]["groups"].values():
        assert [k for k in values if k != "details"] == top


def test_an_unknown_breakdown_is_refused(month: KpiEngine) -> None:
    with pytest.raises(InputError, match="department, segment, family, sku"):
        kpi_report(month, *OCT, by="region")
