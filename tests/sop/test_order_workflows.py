"""Order workflows keep the order, its lines and its deliveries in step."""

from __future__ import annotations

import sqlalchemy as sa

from crmflow.core.domain.orders import create_order

from ..domain.conftest import d


def _rows(eng, sql: str) -> list:
    with eng.db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def _order(eng, oid: str, priority: str = "normal", qty: int = 4) -> None:
    create_order(eng, order_id=oid, customer_id="C2", by="rita", sales_rep="rita",
                 priority=priority, lines=[{"sku": "M1", "quantity": qty, "unit_price": 20,
                                            "requested_date": d(9)}])  # fmt: skip


def test_delivering_an_order_records_the_delivery_and_the_statuses(make_sop) -> None:
    eng = make_sop()
    _order(eng, "S1")
    [inst] = eng.list(workflow="order_lifecycle")
    for trigger, who in (("submit", "rita"), ("schedule", "paul"), ("start_production", "sam"),
                         ("ship", "leo")):  # fmt: skip
        assert eng.fire(inst.id, trigger, actor=who).taken
    assert _rows(eng, "SELECT status FROM orders") == [("shipped",)]
    assert _rows(eng, "SELECT status FROM order_lines") == [("shipped",)]
    assert eng.fire(inst.id, "deliver", actor="leo").state == "delivered"
    assert _rows(eng, "SELECT status FROM orders") == [("delivered",)]
    assert _rows(eng, "SELECT status FROM order_lines") == [("delivered",)]
    assert _rows(eng, "SELECT delivery_id, quantity FROM deliveries") == [("S1/M1/final", 4.0)]


def test_an_order_waiting_for_credit_is_not_confirmed(make_sop) -> None:
    eng = make_sop()
    _order(eng, "L1", qty=1000)  # 20,000 over the 10,000 large-order limit
    [inst] = eng.list(workflow="order_lifecycle")
    assert eng.fire(inst.id, "submit", actor="rita").state == "awaiting_approval"
    assert _rows(eng, "SELECT status FROM orders") == [("draft",)]
    assert eng.fire(inst.id, "approve", actor="mia").state == "confirmed"
    assert _rows(eng, "SELECT status FROM orders") == [("confirmed",)]


def test_a_rush_order_follows_rush_order_only_and_moves_the_order(make_sop) -> None:
    eng = make_sop()
    _order(eng, "R1", priority="rush")
    assert eng.list(workflow="order_lifecycle") == []
    [rush] = eng.list(workflow="rush_order")
    for trigger, who in (("accept", "paul"), ("capacity_checked", "paul"),
                         ("material_checked", "bea"), ("credit_checked", "mia"),
                         ("plan_adjusted", "paul"), ("approve", "sam")):  # fmt: skip
        assert eng.fire(rush.id, trigger, actor=who).taken
    assert _rows(eng, "SELECT status FROM orders") == [("in_production",)]
    eng.fire(rush.id, "ship", actor="leo")
    eng.fire(rush.id, "deliver", actor="leo")
    assert _rows(eng, "SELECT status FROM orders") == [("delivered",)]
    # an order.created from elsewhere without a priority still starts order_lifecycle
    eng.emit("order.created", {"order_id": "X9"})
    assert [i.data["order"]["order_id"] for i in eng.list(workflow="order_lifecycle")] == ["X9"]
