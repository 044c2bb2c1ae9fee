"""Customer lists, demand-swing events routed to the rep, capacity-overload alerts, tables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from crmflow.cli import cli
from crmflow.core.domain.capacity_watch import check_capacity, weekly_load
from crmflow.core.domain.customer_lists import demand_swings, top_customers
from crmflow.core.domain.scans import run_due_scans

from ..domain.conftest import TODAY, d
from .conftest import load

ORDERS = "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date,sales_rep\n"


def _rows(eng, sql: str) -> list:
    with eng.db.connect() as conn:
        return list(conn.execute(sa.text(sql)))


def _monthly(eng, tmp_path: Path, quantities: dict[str, list[float]]) -> None:
    """One order a month per customer, the last of them in the month before TODAY."""
    lines = []
    for cid, series in quantities.items():
        for k, qty in enumerate(series):
            back = len(series) - k  # months before TODAY's month
            year, month = divmod(TODAY.year * 12 + TODAY.month - 1 - back, 12)
            day = dt.date(year, month + 1, 10)
            lines.append(f"{cid}-{k},{cid},{day},M1,{qty:g},20,{day},rep_{cid.lower()}")
    load(eng, tmp_path, "orders", ORDERS + "\n".join(lines))


def test_top_customers_by_value_and_the_swing_routed_to_the_rep(make_sop, tmp_path) -> None:
    eng = make_sop()
    steady = [20, 22, 19, 21, 20, 18, 22, 20, 21, 19, 20, 21]
    _monthly(eng, tmp_path, {"C1": steady, "C2": [5, 6, 5, 4, 6, 5, 5, 6, 5, 30, 35, 32]})
    top = top_customers(eng, limit=1)
    assert [(r["rank"], r["customer_id"]) for r in top] == [(1, "C1")]
    assert top[0]["revenue_12m"] == sum(steady) * 20
    swings = demand_swings(eng)
    assert [(s["customer_id"], s["family"], s["direction"]) for s in swings] == [
        ("C2", "gears", "up")]  # fmt: skip
    swing = swings[0]
    assert swing["recent"] == [30, 35, 32] and swing["band_high"] < 30
    assert swing["sales_rep"] == "rep_c2"
    ran = run_due_scans(eng, eng.now())
    assert [s["customer_id"] for s in ran["demand_swing"]] == ["C2"]
    assert run_due_scans(eng, eng.now()) == {}  # claimed for today: nothing runs twice
    [inst] = eng.list(workflow="customer_demand_swing")
    assert inst.state == "follow_up"
    from crmflow.notifications import inbox

    [told] = inbox(eng, "rep_c2")
    assert "gears demand went up" in told["text"]
    [payload] = [json.loads(p) for (p,) in _rows(
        eng, "SELECT payload FROM events WHERE name = 'customer.demand_swing'")]  # fmt: skip
    assert {"customer_id", "family", "recent", "band_low", "band_high"} <= set(payload)


def _plan(eng, tmp_path: Path, qty: int) -> None:
    load(eng, tmp_path, "production", "plan_id,sku,line,start_date,due_date,quantity\n"
         f"P1,M1,L1,{d(0)},{d(4)},100\nP2,M1,L1,{d(7)},{d(13)},{qty}")  # fmt: skip


def test_capacity_overload_alerts_once_per_line_and_week_and_closes(make_sop, tmp_path) -> None:
    eng = make_sop()
    _plan(eng, tmp_path, 350)  # 350 / 5 per hour = 70 h in a week of 7 x 8 h = 56 h
    with eng.db.connect() as conn:
        weeks = {r["week"]: r for r in weekly_load(conn, TODAY, 2)}
    assert weeks[d(7)]["load_hours"] == 70 and weeks[d(7)]["available_hours"] == 56
    assert weeks[d(0)]["load_hours"] == 20
    first = check_capacity(eng)
    assert [(r["line"], r["week"]) for r in first["opened"]] == [("L1", d(7))]
    assert check_capacity(eng)["opened"] == []  # once per line and week
    [(kind, location, status)] = _rows(eng, "SELECT kind, location, status FROM alerts")
    assert (kind, location, status) == ("capacity_overloaded", "L1", "open")
    events = _rows(eng, "SELECT payload FROM events WHERE name = 'capacity.overloaded'")
    assert [json.loads(p)["load_hours"] for (p,) in events] == [70]
    _plan(eng, tmp_path, 250)  # 50 h: the load falls back
    assert len(check_capacity(eng)["closed"]) == 1
    assert _rows(eng, "SELECT status FROM alerts") == [("closed",)]


def test_a_threshold_tolerates_some_overload(make_sop, tmp_path) -> None:
    eng = make_sop(settings={"capacity_overload_threshold": 0.3})
    _plan(eng, tmp_path, 350)  # 70 h is 25 % over 56 h, within 30 %
    assert check_capacity(eng)["opened"] == []


def test_planner_views_print_tables_and_json_only_when_asked(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'v.sqlite3'}"
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, [*args, "--db", db], catch_exceptions=False)

    (tmp_path / "c.csv").write_text("customer_id,name,industry,size,region\n"
                                    "C1,Acme,auto,large,EU\n")  # fmt: skip
    (tmp_path / "p.csv").write_text("sku,name,family,kind,unit_cost,safety_stock\n"
                                    "S1,Bolt,fasteners,bought,1,5\n")  # fmt: skip
    (tmp_path / "o.csv").write_text(
        "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
        "O1,C1,2025-01-02,S1,3,2,2025-01-20\n")  # fmt: skip
    for kind, name in (("customers", "c"), ("products", "p"), ("orders", "o")):
        assert run("import", kind, str(tmp_path / f"{name}.csv")).exit_code == 0
    views = {
        "order": ["order", "O1"], "customer": ["customer", "C1"], "segments": ["segments"],
        "ctp": ["ctp", "S1", "2"], "projected": ["inventory", "projected", "S1", "--days", "3"],
        "top": ["customers", "--top", "value"],
    }  # fmt: skip
    for name, args in views.items():
        text = run(*args)
        assert text.exit_code == 0, (name, text.output)
        assert not text.stdout.lstrip().startswith(("{", "[")), name
        json.loads(run(*args, "--json").stdout)  # the JSON shapes stay under --json
    assert "sku  quantity  requested   promised  status" in run("order", "O1").stdout
    projected = run("inventory", "projected", "S1", "--days", "3").stdout
    assert "forecast      trailing_average" in projected
    assert run("customers").exit_code == 2  # --top value or --swings
