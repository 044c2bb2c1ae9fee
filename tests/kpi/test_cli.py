"""`crmflow kpi` as a user drives it: import CSVs, then ask for the KPIs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crmflow.cli import cli

FACTORY = """\
factory: pumps
title: Pumps Ltd
timezone: UTC
plugins:
  kpi:
    snapshot_cron: "0 6 1 * *"
    snapshot_by: [department]
    thresholds:
      line_fill_rate: {below: 0.9}
departments:
  - id: north
    title: North
    members: [alice]
    pilot_start: 2026-10-15
  - id: south
    title: South
    members: [bob]
"""

CSV = {
    "customers": """\
customer_id,name,industry,size,region
C1,Acme,auto,L,EU
C2,Bolt,retail,S,EU
""",
    "products": """\
sku,name,family,kind,unit_cost
P1,Pump,pumps,made,10
P3,Valve,valves,bought,2
""",
    # O1 is due 10-12 (its P3 line is promised two days after the request)
    "orders": """\
order_id,customer_id,order_date,sku,quantity,unit_price,requested_date,promised_date,sales_rep
O1,C1,2026-09-20,P1,10,5,2026-10-10,,alice
O1,C1,2026-09-20,P3,5,1,2026-10-10,2026-10-12,alice
O2,C2,2026-10-01,P1,4,5,2026-10-20,,bob
O3,C2,2026-10-02,P1,2,5,2026-10-30,,bob
""",
    "deliveries": """\
delivery_id,order_id,sku,delivered_date,quantity
D1,O1,P1,2026-10-08,10
D2,O1,P3,2026-10-11,3
D3,O1,P3,2026-10-14,2
D4,O2,P1,2026-10-18,6
""",
    "inventory": """\
date,sku,location,on_hand
2026-10-01,P1,A,10
2026-10-01,P3,A,50
2026-10-15,P1,A,10
""",
}


def _run(runner: CliRunner, factory: Path, *args: str) -> str:
    result = runner.invoke(cli, [*args, "--factory", str(factory)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _load(runner: CliRunner, tmp_path: Path) -> Path:
    factory = tmp_path / "pumps.yaml"
    factory.write_text(FACTORY)
    for kind in ("customers", "products", "orders", "deliveries", "inventory"):
        path = tmp_path / f"{kind}.csv"
        path.write_text(CSV[kind])
        # history for the KPIs: loaded without events, as a consultant loads it
        out = _run(runner, factory, "import", kind, str(path), "--no-events")
        assert "rejected 0" in out or "rejected" not in out, out
    return factory


def test_kpi_json_after_importing_csvs(runner: CliRunner, tmp_path: Path) -> None:
    factory = _load(runner, tmp_path)
    out = _run(runner, factory, "kpi", "--from", "2026-10-01", "--to", "2026-11-01", "--json")
    report = json.loads(out)
    assert list(report)[:13] == [
        "order_fill_rate", "line_fill_rate", "unit_fill_rate", "on_time_delivery",
        "forecast_accuracy", "forecast_bias", "inventory_turnover",
        "days_inventory_outstanding", "delivery_lead_time_days",
        "delivery_lead_time_days_p50", "delivery_lead_time_days_p90",
        "rush_response_hours", "rush_response_hours_p90",
    ]  # fmt: skip
    # due: O1 (P3 3 of 5 by 10-12: not filled), O2 (over-delivered: filled), O3 (nothing)
    assert report["order_fill_rate"] == 0.333333
    assert report["line_fill_rate"] == 0.5  # O1P1, O2P1 of O1P1, O1P3, O2P1, O3P1
    assert report["unit_fill_rate"] == 0.809524  # (10 + 3 + 4 + 0) / 21
    assert report["on_time_delivery"] == 0.666667  # O1P1, O2P1 on time; O1P3 late
    # cost: every delivered unit, 10×10 + 5×2 + 6 (4 ordered)×10 = 170; stock
    # (100 + 100) and 100 → average 150
    assert report["inventory_turnover"] == 1.133333
    assert report["days_inventory_outstanding"] == round(31 / (170 / 150), 6)
    assert report["delivery_lead_time_days"] == 20.5  # O1 24 days, O2 17
    assert report["rush_response_hours"] is None
    assert report["forecast_accuracy"] is None
    assert report["period"] == {"from": "2026-10-01", "to": "2026-11-01", "days": 31}


def test_kpi_breakdown_snapshot_trend_and_pilot(runner: CliRunner, tmp_path: Path) -> None:
    factory = _load(runner, tmp_path)
    period = ["--from", "2026-10-01", "--to", "2026-11-01"]
    by = json.loads(_run(runner, factory, "kpi", *period, "--by", "department", "--json"))
    groups = by["by"]["groups"]
    assert groups["north"]["line_fill_rate"] == 0.5
    assert groups["south"]["line_fill_rate"] == 0.5
    stored = json.loads(
        _run(runner, factory, "kpi", "snapshot", "--due-only", "--now", "2026-11-01T07:00",
             "--json")
    )  # fmt: skip
    assert [s["period"]["from"] for s in stored] == ["2026-10-01"]
    assert [e["kpi"] for e in stored[0]["events"]] == ["line_fill_rate"]
    again = _run(runner, factory, "kpi", "snapshot", "--due-only", "--now", "2026-11-02", "--json")
    assert json.loads(again) == []
    trend = json.loads(_run(runner, factory, "kpi", "trend", "line_fill_rate", "--json"))
    assert [(t["from"], t["value"]) for t in trend] == [("2026-10-01", 0.5)]
    pilot = json.loads(_run(runner, factory, "kpi", "pilot", *period, "--json"))
    assert pilot["pilot_departments"] == ["north"]
    assert pilot["pilot"]["on_time_delivery"] == 0.5
    assert pilot["rest"]["on_time_delivery"] == 1
    text = _run(runner, factory, "kpi", *period)
    assert "line_fill_rate" in text and "50.0%" in text


def test_bad_dates_and_breakdowns_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    factory = tmp_path / "pumps.yaml"
    factory.write_text(FACTORY)
    result = runner.invoke(cli, ["kpi", "--from", "2026-13-01", "--factory", str(factory)])
    assert result.exit_code == 2
    assert "--from" in result.output and "2026-13-01" in result.output
    result = runner.invoke(
        cli, ["kpi", "--from", "2026-10-01", "--to", "2026-10-01", "--factory", str(factory)]
    )
    assert result.exit_code == 2 and "--to" in result.output
    result = runner.invoke(cli, ["kpi", "--by", "region", "--factory", str(factory)])
    assert result.exit_code == 2 and "department" in result.output
