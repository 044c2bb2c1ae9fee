"""Customer 360, segment analysis, order timeline and the demo factory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from crmflow import Engine
from crmflow.core.domain.customers import customer_360, demand_volatility, segment_analysis
from crmflow.core.domain.demo import DEMO_FACTORY, load_demo
from crmflow.core.domain.imports import import_csv
from crmflow.core.domain.orders import change_order_line, record_delivery
from crmflow.core.domain.timeline import order_timeline
from crmflow.testing import FakeClock

from .conftest import START, d, write_csv


def _orders(eng, tmp_path: Path) -> None:
    rows = ["order_id,customer_id,order_date,sku,quantity,unit_price,requested_date"]
    for n in range(10):  # on the 2nd of each of the last ten months
        day = dt.date(2025 + (n + 3) // 12, (n + 3) % 12 + 1, 2).isoformat()
        rows.append(f"A{n},C1,{day},M1,10,20,{day}")
        rows.append(f"A{n},C1,{day},B1,30,2,{day}")
    rows.append(f"Z1,C2,{d(-40)},B1,5,2,{d(20)}")
    import_csv(eng, "orders", write_csv(tmp_path / "h.csv", "\n".join(rows)), actor="t")


def test_customer_360(factory_data, tmp_path: Path) -> None:
    _orders(factory_data, tmp_path)
    view = customer_360(factory_data, "C1")
    assert view["purchase_cycle_days"] == 31  # median of 28..31-day gaps
    assert view["next_expected_order"] == "2026-02-02"
    assert view["preferences"] == {"fasteners": 0.75, "gears": 0.25}
    assert view["value"]["tier"] in ("A", "B", "C") and view["value"]["frequency"] == 10
    assert view["volatility"]["cv"] == 0.0 and view["volatility"]["flag"] is False


def test_volatility_flags_a_swing_outside_the_usual_band() -> None:
    steady = [100.0, 104.0, 98.0, 101.0, 99.0, 102.0, 100.0, 97.0]
    assert demand_volatility([*steady, 100.0, 101.0, 99.0])["flag"] is False
    assert demand_volatility([*steady, 100.0, 101.0, 180.0])["flag"] is True


def test_segment_analysis(factory_data, tmp_path: Path) -> None:
    _orders(factory_data, tmp_path)
    by_industry = {s["industry"]: s for s in segment_analysis(factory_data, by="industry")}
    assert by_industry["automotive"]["quantity_12m"] == 400
    assert by_industry["food"]["customers"] == 1


def test_order_timeline_merges_records_and_workflows(factory_data, tmp_path: Path) -> None:
    eng = factory_data
    _orders(eng, tmp_path)
    change_order_line(eng, "Z1", "B1", "quantity", 6, "customer_request", "rita")
    record_delivery(
        eng,
        delivery_id="DZ1",
        order_id="Z1",
        sku="B1",
        quantity=6,
        delivered_date=d(0),
        shipped_date=d(-1),
        by="leo",
    )
    view = order_timeline(eng, "Z1")
    stages = [e["stage"] for e in view["timeline"]]
    assert stages[0] == "sales" and {"planning", "shipping", "delivery"} <= set(stages)
    assert any(e["source"] == "workflow" for e in view["timeline"])
    assert view["status"] == "delivered"


def test_demo_is_deterministic_and_has_work_in_flight(tmp_path: Path) -> None:
    # how fast the demo loads is a figure of bench/demo.py, not a test condition
    counts = []
    for name in ("a", "b"):
        engine = Engine.open(
            f"sqlite:///{tmp_path / name}.sqlite3",
            factory=str(DEMO_FACTORY),
            clock=FakeClock(START),
            load_entry_points=False,
        )
        counts.append(load_demo(engine, seed=7))
        with engine.db.connect() as conn:
            states = set(conn.execute(sa.text("select workflow, state from instances")).all())
            total = conn.execute(sa.text("select sum(quantity) from order_lines")).scalar()
        engine.close()
        counts[-1]["quantity"] = total
    assert counts[0] == counts[1]
    assert counts[0]["customers"] == 200 and counts[0]["products"] == 60
    assert ("rush_order", "received") in states and (
        "inventory_alert",
        "awaiting_approval",
    ) in states
    assert dt.date(2026, 1, 5) == START.date()
