"""Cached figures follow the events that change them; KPI tiles and the worklist."""

from __future__ import annotations

import datetime as dt

from crmflow.plugins.kpi.service import kpi_report
from crmflow.plugins.reports.cache import FigureCache, cache_of
from crmflow.plugins.reports.selection import parse_selection
from crmflow.plugins.reports.stock import stock_outlook
from crmflow.plugins.reports.tiles import kpi_tiles
from crmflow.plugins.reports.worklist import worklist

from .sop_data import TODAY

KPI_KEYS = ("order_fill_rate", "line_fill_rate", "unit_fill_rate", "on_time_delivery",
            "forecast_accuracy", "forecast_bias", "inventory_turnover",
            "days_inventory_outstanding", "delivery_lead_time_days",
            "rush_response_hours")  # fmt: skip


def on_hand(outlook, sku):
    return next(r["on_hand"] for r in outlook["skus"] if r["sku"] == sku)


def test_a_stock_event_recomputes_only_that_skus_projection(sop):
    sel = parse_selection({"horizon": "2"}, TODAY)
    stock_outlook(sop, sel)
    cache = cache_of(sop)
    misses = cache.misses

    sop.emit("inventory.changed", {"sku": "A1", "location": "MAIN", "on_hand": 7})
    after = stock_outlook(sop, sel)

    assert on_hand(after, "A1") == 7.0
    assert cache.misses - misses == 1  # A1 again; A2 and V1 from the cache


def test_without_events_a_view_reads_the_cache_not_the_database(sop):
    sel = parse_selection({"horizon": "2"}, TODAY)
    first = stock_outlook(sop, sel)
    with sop.db.begin() as conn:  # a write no event announced (another process, say)
        conn.exec_driver_sql("UPDATE inventory_positions SET on_hand = 1 WHERE sku = 'A1'")

    assert on_hand(stock_outlook(sop, sel), "A1") == on_hand(first, "A1") == 100.0


def test_an_old_figure_is_served_while_it_is_refreshed():
    now = [0.0]
    refreshes = []
    cache = FigureCache(max_age=60, clock=lambda: now[0], spawn=refreshes.append)
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert cache.get("k", ("stock",), compute) == 1
    now[0] = 59.0
    assert cache.get("k", ("stock",), compute) == 1 and refreshes == []
    now[0] = 61.0
    assert cache.get("k", ("stock",), compute) == 1  # the old figure, no waiting
    assert cache.get("k", ("stock",), compute) == 1 and len(refreshes) == 1  # one refresh
    refreshes[0]()  # the background refresh runs
    assert cache.get("k", ("stock",), compute) == 2


def test_an_invalidated_figure_is_not_brought_back_by_a_late_refresh():
    now = [0.0]
    refreshes = []
    cache = FigureCache(max_age=60, clock=lambda: now[0], spawn=refreshes.append)
    cache.get("k", ("stock",), lambda: "old")
    now[0] = 61.0
    cache.get("k", ("stock",), lambda: "refreshed")

    cache.invalidate({"stock"})
    refreshes[0]()

    assert cache.get("k", ("stock",), lambda: "new") == "new"


def test_an_unknown_event_drops_every_figure(sop):
    stock_outlook(sop, parse_selection({"horizon": "2"}, TODAY))
    assert len(cache_of(sop)) > 0

    sop.emit("connector.something_new", {})

    assert len(cache_of(sop)) == 0


def test_tiles_carry_every_kpi_with_the_cli_value_target_and_threshold(make_sop):
    engine = make_sop(
        settings={"kpi_targets": {"order_fill_rate": 0.95}},
        plugins={"kpi": {"thresholds": {"order_fill_rate": {"below": 0.9}}}},
    )
    sel = parse_selection({"from": "2026-11-01", "to": "2026-11-25"}, TODAY)

    tiles = {t["key"]: t for t in kpi_tiles(engine, sel)["tiles"]}
    report = kpi_report(engine, dt.date(2026, 11, 1), dt.date(2026, 11, 25))

    assert set(KPI_KEYS) <= set(tiles)
    for key in KPI_KEYS:
        assert tiles[key]["value"] == report[key]
    fill = tiles["order_fill_rate"]
    assert fill["target"] == 0.95
    assert fill["threshold"] == {"direction": "below", "limit": 0.9}
    assert fill["breached"] == (report["order_fill_rate"] < 0.9)
    assert tiles["delivery_lead_time_days"]["extras"] == {
        "delivery_lead_time_days_p50": report["delivery_lead_time_days_p50"],
        "delivery_lead_time_days_p90": report["delivery_lead_time_days_p90"]}  # fmt: skip


def test_a_family_filter_shows_that_familys_kpis(sop):
    sel = parse_selection({"family": "valves", "from": "2026-11-01", "to": "2026-11-25"}, TODAY)

    tiles = kpi_tiles(sop, sel)
    report = kpi_report(sop, dt.date(2026, 11, 1), dt.date(2026, 11, 25), "family")

    assert tiles["group"] == {"dimension": "family", "value": "valves"}
    on_time = next(t for t in tiles["tiles"] if t["key"] == "on_time_delivery")
    assert on_time["value"] == report["by"]["groups"]["valves"]["on_time_delivery"]


def test_overdue_steps_are_grouped_by_the_states_owner(sop, sop_clock):
    iid = sop.start("order", data={"order": {"number": "SO-1", "quantity": 2}})
    sop.fire(iid, "confirm")  # confirmed: owner planner, deadline 2h
    assert worklist(sop)["overdue"] == {}

    sop_clock.advance(hours=3)
    work = worklist(sop)

    assert list(work["overdue"]) == ["planner"]
    [item] = work["overdue"]["planner"]
    assert (item["id"], item["state"], item["late_hours"]) == (iid, "confirmed", 1.0)


def test_pending_demand_changes_wait_in_the_worklist(sop):
    with sop.db.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO demand_changes (order_id, sku, field, old_value, new_value, reason, "
            "changed_by, changed_at, approval_state, source) VALUES ('O4', 'A1', 'quantity', "
            "'50', '80', 'customer', 'alice', '2026-11-24 10:00:00', 'pending', 'user')"
        )

    [change] = worklist(sop)["changes"]

    assert (change["order_id"], change["new_value"], change["approval_state"]) == (
        "O4", "80", "pending")  # fmt: skip


def test_a_kpi_event_refreshes_the_kpi_figures_behind_the_scenes():
    refreshes = []
    cache = FigureCache(max_age=60, clock=lambda: 0.0, spawn=refreshes.append)
    cache.get("kpi-report", ("kpi",), lambda: "before")

    cache.invalidate({"kpi"}, soft=True)

    assert cache.get("kpi-report", ("kpi",), lambda: "after") == "before"
    refreshes[0]()
    assert cache.get("kpi-report", ("kpi",), lambda: "again") == "after"
