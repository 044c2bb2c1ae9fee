"""The shipped workflows end to end: events in, records and states out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow.core.domain.imports import import_csv
from crmflow.core.domain.orders import change_order_line, create_order
from crmflow.core.domain.planning import create_proposal
from crmflow.errors import InputError

from .conftest import d, write_csv


def _rows(eng, sql: str) -> list:
    with eng.db.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def _inapp(eng) -> list[str]:
    """Who found a notification in their in-app inbox."""
    from crmflow.notifications import delivery_log

    return [d["to"] for d in delivery_log(eng) if d["channel"] == "inapp"]


def _stock(eng, tmp_path: Path, sku: str, on_hand: int) -> None:
    path = write_csv(tmp_path / "inv.csv", f"date,sku,location,on_hand\n{d(0)},{sku},WH,{on_hand}")
    import_csv(eng, "inventory", path, actor="t")


def test_repeated_inventory_event_opens_one_alert_and_one_request(factory_data) -> None:
    eng = factory_data
    first = eng.emit("inventory.changed", {"sku": "B1", "location": "WH", "on_hand": 5})
    assert len(first.started) == 1
    again = eng.emit("inventory.changed", {"sku": "B1", "location": "WH", "on_hand": 4})
    assert again.started == [] and again.moved == first.started
    assert _rows(eng, "select count(*) from alerts where status='open'") == [(1,)]
    [(qty, amount)] = _rows(eng, "select quantity, amount from purchase_requests")
    # target = safety 20 + 0 demand x 10 days = 20; projected 4 -> need 16; reorder qty 100
    # wins; rounded up to the lot of 50 -> 100.
    assert (qty, amount) == (100, 200)
    iid = first.started[0]
    assert eng.get(iid).state == "awaiting_approval"
    assert eng.fire(iid, "approve", actor="bea").taken
    assert _rows(eng, "select status from purchase_requests") == [("approved",)]
    # stock recovers: the alert closes itself
    recovered = eng.emit("inventory.changed", {"sku": "B1", "location": "WH", "on_hand": 300})
    assert recovered.moved == [iid]
    assert eng.get(iid).state == "closed"
    assert _rows(eng, "select status, open_key from alerts") == [("closed", None)]


def test_alert_escalates_when_the_deadline_passes(factory_data, clock) -> None:
    eng = factory_data
    iid = eng.emit("inventory.changed", {"sku": "B1", "location": "WH", "on_hand": 5}).started[0]
    clock.advance(hours=25)
    assert eng.tick() >= 1
    triggers = [h.trigger for h in eng.get(iid).history]
    # the deadline, the ladder (planner after 4 working hours, manager after 8) and one
    # reminder for the periods missed while no worker ran; none of them resets another
    assert [triggers.count(t) for t in ("escalate", "escalate_planner", "escalate_manager",
                                        "remind")] == [1, 1, 1, 1]  # fmt: skip
    # purchasing (the reminder), a planner and the managers of the demo factory
    told = set(_inapp(eng))
    assert {"bea", "mia", "max"} <= told and told & {"paul", "petra"}


def test_made_part_shortage_proposes_a_production_adjustment(factory_data) -> None:
    eng = factory_data
    iid = eng.emit("inventory.changed", {"sku": "M1", "location": "WH", "on_hand": 2}).started[0]
    [(qty, status)] = _rows(eng, "select quantity_delta, status from plan_adjustments")
    assert (qty, status) == (10, "proposed")  # 10 - 2 = 8 -> lot of 10
    eng.fire(iid, "approve", actor="paul")
    assert _rows(eng, "select sku, quantity, status from production_plans") == [
        ("M1", 10.0, "planned")
    ]


def test_demand_change_beyond_tolerance_waits_for_approval(factory_data, tmp_path, clock) -> None:
    eng = factory_data
    _stock(eng, tmp_path, "M1", 10)
    create_order(
        eng,
        order_id="S1",
        customer_id="C1",
        by="rita",
        lines=[{"sku": "M1", "quantity": 10, "unit_price": 20, "requested_date": d(3)}],
    )
    change = change_order_line(eng, "S1", "M1", "quantity", 200, "customer_request", "rita")
    assert change["approval_state"] == "pending" and change["impact"]["moves_plan"]
    [iid] = [i.id for i in eng.list(workflow="demand_change")]
    clock.advance(seconds=2)
    eng.tick()
    assert eng.get(iid).state == "planner_review"
    # the line keeps its accepted quantity and the plan is untouched until approval
    assert _rows(eng, "select quantity from order_lines") == [(10.0,)]
    assert _rows(eng, "select count(*) from production_plans") == [(0,)]
    assert eng.fire(iid, "approve", actor="paul").state == "supervisor_approval"
    assert _rows(eng, "select quantity from order_lines") == [(10.0,)]
    assert eng.fire(iid, "approve", actor="sam").state == "plan_adjusted"
    assert _rows(eng, "select quantity from order_lines") == [(200.0,)]
    assert _rows(eng, "select sku, quantity from production_plans") == [("M1", 190.0)]
    assert _rows(
        eng,
        "select field, old_value, new_value, changed_by, approval_state, "
        "decided_by from demand_changes",
    ) == [("quantity", "10.0", "200.0", "rita", "approved", "sam")]


def test_demand_change_within_tolerance_is_accepted_at_once(factory_data, clock) -> None:
    eng = factory_data
    create_order(
        eng,
        order_id="S2",
        customer_id="C1",
        by="rita",
        lines=[{"sku": "B1", "quantity": 100, "unit_price": 5, "requested_date": d(20)}],
    )
    change = change_order_line(eng, "S2", "B1", "quantity", 105, "customer_request", "rita")
    assert change["approval_state"] == "auto_accepted"
    assert _rows(eng, "select quantity from order_lines") == [(105.0,)]
    [iid] = [i.id for i in eng.list(workflow="demand_change")]
    clock.advance(seconds=2)
    eng.tick()
    assert eng.get(iid).state == "accepted"


def test_rep_cannot_approve_own_demand_change(factory_data, clock) -> None:
    eng = factory_data
    create_order(
        eng,
        order_id="S3",
        customer_id="C1",
        by="paul",
        lines=[{"sku": "B1", "quantity": 100, "unit_price": 5, "requested_date": d(20)}],
    )
    change_order_line(eng, "S3", "B1", "requested_date", d(10), "customer_request", "paul")
    [iid] = [i.id for i in eng.list(workflow="demand_change")]
    clock.advance(seconds=2)
    eng.tick()
    own = eng.fire(iid, "approve", actor="paul")  # paul changed the line: four eyes
    assert not own.taken and "four eyes" in own.reason
    assert eng.get(iid).state == "planner_review"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", -3, "negative"),
        ("requested_date", "2020-01-01", "in the past"),
        ("promised_date", "soon", "ISO date"),
        ("colour", "red", "must be one of"),
    ],
)
def test_bad_demand_change_changes_nothing(factory_data, field, value, message) -> None:
    eng = factory_data
    create_order(
        eng,
        order_id="S4",
        customer_id="C1",
        by="rita",
        lines=[{"sku": "B1", "quantity": 100, "unit_price": 5, "requested_date": d(20)}],
    )
    with pytest.raises(InputError, match=message):
        change_order_line(eng, "S4", "B1", field, value, "customer_request", "rita")
    assert _rows(eng, "select count(*) from demand_changes") == [(0,)]
    assert eng.list(workflow="demand_change") == []


def test_create_order_bad_input_writes_nothing(factory_data) -> None:
    eng = factory_data
    with pytest.raises(InputError, match="unknown sku"):
        create_order(
            eng,
            order_id="X",
            customer_id="C1",
            by="rita",
            lines=[{"sku": "NOPE", "quantity": 1, "requested_date": d(3)}],
        )
    with pytest.raises(InputError, match="positive"):
        create_order(
            eng,
            order_id="X",
            customer_id="C1",
            by="rita",
            lines=[{"sku": "B1", "quantity": -1, "requested_date": d(3)}],
        )
    assert _rows(eng, "select count(*) from orders") == [(0,)]


def _adjustment(eng, amount: float, by: str = "rita") -> int:
    with eng.db.begin() as conn:
        prop = create_proposal(
            conn, sku="M1", kind="plan_adjustment", quantity=10, amount=amount, by=by, now=eng.now()
        )
    # the proposer emits the event: they start the approval (four eyes)
    return eng.emit(
        "production.adjustment_proposed",
        {"subject": prop["subject"], "amount": amount, "requested_by": by},
        actor=by,
    ).started[0]


def test_approval_state_refuses_self_approval(factory_data) -> None:
    eng = factory_data
    iid = _adjustment(eng, 500, by="sam")
    own = eng.fire(iid, "approve", actor="sam")
    assert not own.taken and own.code == "approval" and "four eyes" in own.reason
    assert eng.get(iid).state == "pending"
    assert eng.fire(iid, "approve", actor="mia").state == "approved"


def test_approval_state_by_amount(factory_data) -> None:
    eng = factory_data
    two = _adjustment(eng, 2000)
    assert eng.fire(two, "approve", actor="sam").state == "pending"
    again = eng.fire(two, "approve", actor="sam")
    assert not again.taken and "already voted" in again.reason
    assert eng.fire(two, "approve", actor="mia").state == "approved"
    board = _adjustment(eng, 9000)
    outsider = eng.fire(board, "approve", actor="paul")  # a planner: not an approver
    assert not outsider.taken and "not an approver" in outsider.reason
    eng.fire(board, "approve", actor="max")
    assert eng.fire(board, "approve", actor="sam").state == "approved"
    assert _rows(eng, "select status from plan_adjustments order by id") == [
        ("applied",),
        ("applied",),
    ]
    assert [v["by"] for v in eng.get(board).approvals] == ["max", "sam"]


def test_delegate_approves_for_an_away_approver(factory_data) -> None:
    eng = factory_data
    eng.delegate("mia", "bea", d(0), d(5), reason="holiday", by="mia")
    iid = _adjustment(eng, 9000)
    away = eng.fire(iid, "approve", actor="mia")
    assert not away.taken and "delegated" in away.reason
    eng.fire(iid, "approve", actor="bea")  # on behalf of mia
    assert eng.fire(iid, "approve", actor="sam").state == "approved"
    assert [(v["by"], v["for"]) for v in eng.get(iid).approvals] == [("bea", "mia"), ("sam", "sam")]


def test_rush_order_escalates_and_records_response(factory_data, clock) -> None:
    eng = factory_data
    create_order(
        eng,
        order_id="R1",
        customer_id="C2",
        by="rita",
        priority="rush",
        sales_rep="rita",
        lines=[{"sku": "M1", "quantity": 5, "unit_price": 20, "requested_date": d(2)}],
    )
    [rush] = eng.list(workflow="rush_order")
    clock.advance(minutes=31)
    eng.tick()
    assert _inapp(eng) == ["sam"]  # the supervisor
    clock.advance(minutes=9)
    assert eng.fire(rush.id, "accept", actor="paul").state == "checks"
    assert eng.get(rush.id).data["response"]["hours"] == pytest.approx(40 / 60, abs=1e-3)


def test_order_lifecycle_routes_large_orders_through_approval(factory_data, clock) -> None:
    eng = factory_data
    create_order(
        eng,
        order_id="L1",
        customer_id="C1",
        by="rita",
        lines=[{"sku": "B1", "quantity": 1000, "unit_price": 20, "requested_date": d(9)}],
    )
    [inst] = eng.list(workflow="order_lifecycle")
    assert eng.fire(inst.id, "submit", actor="rita").state == "awaiting_approval"
    assert not eng.fire(inst.id, "approve", actor="rita").taken  # role
    assert eng.fire(inst.id, "approve", actor="mia").state == "confirmed"
    assert _rows(eng, "select status from orders") == [("confirmed",)]
    clock.advance(dt.timedelta(minutes=1))
