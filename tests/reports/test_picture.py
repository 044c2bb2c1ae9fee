"""The S&OP picture's figures, checked against the small factory computed by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from crmflow.core.domain.ctp import capacity_load
from crmflow.core.store import reading
from crmflow.errors import InputError
from crmflow.plugins.reports.capacity import capacity_outlook
from crmflow.plugins.reports.picture import demand_picture
from crmflow.plugins.reports.selection import parse_selection
from crmflow.plugins.reports.stock import stock_outlook

from .sop_data import TODAY


def rows_by_bucket(picture):
    return {r["bucket"]: r for r in picture["rows"]}


def test_demand_history_counts_requested_units_per_week_without_cancelled(sop):
    sel = parse_selection({"family": "pumps", "history": "3", "horizon": "3"}, TODAY)

    rows = rows_by_bucket(demand_picture(sop, sel))

    assert list(rows) == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30",
                          "2026-12-07"]  # fmt: skip
    assert [rows[b]["demand"] for b in list(rows)[:4]] == [0.0, 30.0, 12.0, 0.0]
    assert rows["2026-11-30"]["demand"] is None  # the future has no demand yet


def test_orders_on_hand_and_plan_fall_in_their_due_week(sop):
    sel = parse_selection({"family": "pumps", "history": "0", "horizon": "3"}, TODAY)

    rows = rows_by_bucket(demand_picture(sop, sel))

    assert rows["2026-11-30"]["orders"] == 50.0  # O4: A1, due 2 December
    assert rows["2026-12-07"]["orders"] == 20.0  # O5: A2, due 9 December
    assert rows["2026-11-30"]["plan"] == 650.0  # P-A1 600 and P-A2 50, due that week
    assert rows["2026-11-23"]["plan"] == 0.0


def test_forecast_band_is_the_backtest_error_of_the_skus(sop):
    sel = parse_selection({"family": "pumps", "history": "0", "horizon": "3"}, TODAY)

    week = rows_by_bucket(demand_picture(sop, sel))["2026-12-07"]

    # December: A1 310 + A2 62, 7 of 31 days; error √(0.5·40)² + (1.0·30)²), spread alike.
    forecast = (310 + 62) * 7 / 31
    error = math.hypot(0.5 * 40, 1.0 * 30) * 7 / 31
    assert week["forecast"] == pytest.approx(forecast, abs=1e-3)
    assert week["forecast_low"] == pytest.approx(forecast - error, abs=1e-3)
    assert week["forecast_high"] == pytest.approx(forecast + error, abs=1e-3)


def test_one_sku_and_a_segment_narrow_the_history(sop):
    one = rows_by_bucket(demand_picture(sop, parse_selection(
        {"sku": "V1", "history": "2", "horizon": "1"}, TODAY)))  # fmt: skip
    retail = rows_by_bucket(demand_picture(sop, parse_selection(
        {"segment": "retail", "history": "2", "horizon": "1"}, TODAY)))  # fmt: skip

    assert one["2026-11-16"]["demand"] == 7.0
    assert retail["2026-11-16"]["demand"] == 12.0  # O2 (Bolt, retail) only
    assert retail["2026-11-09"]["demand"] == 0.0  # O6 is cancelled


def test_capacity_load_marks_the_overloaded_line_week(sop):
    sel = parse_selection({"history": "0", "horizon": "2"}, TODAY)

    lines = {line["line"]: line for line in capacity_outlook(sop, sel)["lines"]}

    l1 = {r["bucket"]: r for r in lines["L1"]["rows"]}["2026-11-30"]
    l2 = {r["bucket"]: r for r in lines["L2"]["rows"]}["2026-11-30"]
    assert (l1["available"], l1["load"], l1["overload"]) == (40.0, 60.0, True)
    assert l1["line_hours"] == 20.0  # 8 planned hours × 0.5, what capable-to-promise uses
    assert (l2["available"], l2["load"], l2["overload"]) == (30.0, 10.0, False)
    assert lines["L1"]["overloads"] == 1 and lines["L2"]["overloads"] == 0


def test_capacity_load_is_the_sum_of_the_domain_daily_load(sop):
    sel = parse_selection({"history": "0", "horizon": "3", "bucket": "week"}, TODAY)
    outlook = capacity_outlook(sop, sel)
    with reading(sop.db) as conn:
        daily = capacity_load(conn, "L1", TODAY, dt.date.fromisoformat(outlook["to"]))

    total = sum(r["load"] for r in outlook["lines"][0]["rows"])

    assert total == pytest.approx(sum(d["load"] for d in daily.values()))


def test_stock_outlook_lists_shortages_first_with_safety_and_reorder_lines(sop):
    sel = parse_selection({"horizon": "2"}, TODAY)

    out = stock_outlook(sop, sel)

    # A2 (none on hand, forecast demand) and V1 (3 on hand, safety stock 5) are short today.
    assert [r["sku"] for r in out["skus"]][:2] == ["A2", "V1"]
    v1 = out["skus"][1]
    assert (v1["shortage_date"], v1["on_hand"], v1["safety_stock"], v1["reorder_point"]) == (
        TODAY.isoformat(), 3.0, 5.0, 10.0)  # fmt: skip
    dates = [r["shortage_date"] or "9999" for r in out["skus"]]
    assert dates == sorted(dates)
    assert out["detail"]["sku"] == "A2" and len(out["detail"]["rows"]) == out["days"] == 14
    assert out["short"] == sum(1 for r in out["skus"] if r["shortage_date"])


@pytest.mark.parametrize(
    ("args", "field"),
    [({"bucket": "year"}, "bucket"), ({"horizon": "0"}, "horizon"), ({"horizon": "x"}, "horizon"),
     ({"from": "2026-13-01"}, "from"), ({"from": "2026-11-02", "to": "2026-11-01"}, "to")],
)  # fmt: skip
def test_bad_filters_name_the_parameter(args, field):
    with pytest.raises(InputError) as caught:
        parse_selection(args, TODAY)
    assert caught.value.field == field


def test_unknown_family_or_sku_is_refused(sop):
    with pytest.raises(InputError, match="no product in family"):
        demand_picture(sop, parse_selection({"family": "nope"}, TODAY))
    with pytest.raises(InputError, match="unknown sku"):
        stock_outlook(sop, parse_selection({"sku": "nope"}, TODAY))


def test_selection_round_trips_through_the_url(sop):
    args = {"family": "pumps", "bucket": "month", "horizon": "4", "from": "2026-10-01"}

    sel = parse_selection(args, TODAY)

    assert sel.query() == args
    assert parse_selection(sel.query(), TODAY) == sel


def test_no_forecast_beyond_the_snapshots_months(sop):
    sel = parse_selection({"family": "pumps", "history": "0", "horizon": "13"}, TODAY)

    rows = rows_by_bucket(demand_picture(sop, sel))

    assert rows["2027-01-25"]["forecast"] is not None  # January is in the snapshot
    assert rows["2027-02-08"]["forecast"] is None  # February is not: no forecast, not zero
    assert rows["2027-02-08"]["forecast_low"] is None


def test_each_role_gets_its_default_selection(make_sop):
    from crmflow.plugins.reports.selection import default_args

    engine = make_sop(
        settings={"dashboard_defaults": {"manager": {"bucket": "month", "horizon": 6},
                                         "planner": {"family": "pumps"}}},
        users={"mia": {"roles": ["manager"]}, "pete": {"roles": ["planner"]}},
    )  # fmt: skip

    assert default_args(engine, "mia", {}) == {"bucket": "month", "horizon": "6"}
    assert default_args(engine, "pete", {"lang": "en"}) == {"family": "pumps", "lang": "en"}
    assert default_args(engine, "mia", {"sku": "A1"}) == {"sku": "A1"}  # the URL wins
    assert default_args(engine, "nobody", {}) == {}
