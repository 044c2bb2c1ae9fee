"""Each KPI on the hand-computed October of conftest.load_month.

Due in October: O1 (its lines due 10-10 and 10-12, so the order on 10-12),
O2, O5, O7 (its P2 line is cancelled). O3 is due in November, O4 in
September, O6 is cancelled. The comments give the arithmetic.
"""

from __future__ import annotations

import datetime as dt

import pytest

from crmflow.plugins.kpi import kpi_report
from crmflow.plugins.kpi.periods import Period
from crmflow.plugins.kpi.service import compute, engine_kpis

from .kpi_data import KpiEngine

approx = pytest.approx


@pytest.fixture
def report(month: KpiEngine) -> dict:
    return kpi_report(month, dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def test_order_fill_rate_counts_orders_whose_every_line_is_in_full_by_the_order_due_date(
    report: dict,
) -> None:
    # O1 due 10-12 has P3 at 3 of 5 (partial); O2 over-delivered; O5 nothing; O7 in full.
    assert report["order_fill_rate"] == approx(2 / 4)
    assert report["details"]["order_fill_rate"] == {"numerator": 2, "denominator": 4}


def test_line_fill_rate_counts_due_lines_in_full_by_their_own_due_date(report: dict) -> None:
    # O1P1 yes, O1P3 no (3 of 5 by 10-12), O2P2 yes (6 ≥ 4), O5P1 no, O7P3 yes.
    assert report["line_fill_rate"] == approx(3 / 5)


def test_unit_fill_rate_caps_over_deliveries_at_the_ordered_quantity(report: dict) -> None:
    # min(10,10) + min(5,3) + min(4,6) + min(2,0) + min(1,1) = 18 of 10+5+4+2+1 = 22
    assert report["unit_fill_rate"] == approx(18 / 22, abs=1e-6)


def test_on_time_delivery_is_over_lines_completed_in_the_period(report: dict) -> None:
    # completed in October: O1P1 (on time), O1P3 (10-14 > 10-12, late), O2P2 (on time),
    # O3P1 (due in November, early: on time), O4P3 (due in September, late), O7P3 (on time)
    assert report["on_time_delivery"] == approx(4 / 6, abs=1e-6)


def test_delivery_lead_time_is_from_order_date_to_the_completing_delivery(report: dict) -> None:
    # O1 24 days, O2 17, O3 20, O4 32 (completed 10-03), O7 3; O5 is open, O6 cancelled
    assert report["delivery_lead_time_days"] == approx(96 / 5)
    assert report["delivery_lead_time_days_p50"] == approx(20)
    assert report["delivery_lead_time_days_p90"] == approx(24 + 0.6 * 8)
    assert report["details"]["delivery_lead_time_days"] == {"count": 5}


def test_inventory_turnover_and_days_of_inventory(report: dict) -> None:
    # cost of goods counts every delivered unit (kpis.md), over-deliveries too:
    # O1P1 10×10 + O1P3 5×2 + O2P2 6 (4 ordered)×5 + O3P1 8×10 + O4P3 6×2 + O7P3 1×2
    cogs = 100 + 10 + 30 + 80 + 12 + 2
    # stock counts on 10-01 (10×10 + 50×2) and 10-15 (5×10 + 10×5); 09-30 is outside
    average = (200 + 100) / 2
    assert report["inventory_turnover"] == approx(cogs / average, abs=1e-6)
    assert report["days_inventory_outstanding"] == approx(31 / (cogs / average), abs=1e-5)
    assert report["details"]["inventory_turnover"]["numerator"] == approx(cogs)
    assert report["details"]["inventory_turnover"]["denominator"] == approx(average)


def test_rush_response_hours_is_to_the_first_person_move_out_of_the_initial_state(
    report: dict,
) -> None:
    # #1: 3.0 h (the system's reminder and a person's internal comment do not count);
    # #2: 0.75 h; #6: 4.0 h (answered after the month ended); #3 was moved on by a timer
    # and has no person's move out of `new`: pending. #4 started in September, #5 is
    # another workflow.
    assert report["rush_response_hours"] == approx(7.75 / 3, abs=1e-6)
    assert report["rush_response_hours_p90"] == approx(3.8)
    assert report["details"]["rush_response_hours"] == {"count": 3, "pending": 1}


def test_forecast_kpis_are_null_without_forecasts(report: dict) -> None:
    assert report["forecast_accuracy"] is None
    assert report["forecast_bias"] is None


def test_an_empty_period_gives_null_for_every_kpi(month: KpiEngine) -> None:
    report = kpi_report(month, dt.date(2030, 1, 1), dt.date(2030, 2, 1))
    keys = [k for spec in engine_kpis(month) for k in spec.keys]
    assert len(keys) == 13
    assert all(report[key] is None for key in keys)


def test_a_period_boundary_is_exclusive(month: KpiEngine) -> None:
    # Only 10-01 .. 10-10: due lines O1P1 (10-10, in full) and O7P3 (10-06, in full).
    report = kpi_report(month, dt.date(2026, 10, 1), dt.date(2026, 10, 11))
    assert report["line_fill_rate"] == approx(1.0)
    assert report["details"]["line_fill_rate"] == {"numerator": 2, "denominator": 2}
    # O1 is due 10-12: not in this period.
    assert report["details"]["order_fill_rate"] == {"numerator": 1, "denominator": 1}


def test_rush_periods_follow_the_factory_time_zone(month: KpiEngine) -> None:
    from zoneinfo import ZoneInfo

    month.factory.timezone = ZoneInfo("Europe/Berlin")
    report = kpi_report(month, dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    # #4 started 09-30 23:00 UTC = 10-01 01:00 in Berlin (2 h to answer); #6 started
    # 10-31 22:00 UTC = 23:00 in Berlin, still October.
    assert report["details"]["rush_response_hours"] == {"count": 4, "pending": 1}
    assert report["rush_response_hours"] == approx((3 + 0.75 + 4 + 2) / 4)


def test_values_do_not_change_when_computed_again(month: KpiEngine) -> None:
    first = kpi_report(month, dt.date(2026, 10, 1), dt.date(2026, 11, 1), by="family")
    second = kpi_report(month, dt.date(2026, 10, 1), dt.date(2026, 11, 1), by="family")
    assert first == second


def test_compute_on_a_connection_returns_the_figures(month: KpiEngine) -> None:
    with month.db.connect() as conn:
        table = compute(conn, engine_kpis(month), Period(*[dt.date(2026, 10, 1),
                                                          dt.date(2026, 11, 1)]))
    assert table.total["line_fill_rate"].numerator == 3
    assert table.total["line_fill_rate"].denominator == 5
