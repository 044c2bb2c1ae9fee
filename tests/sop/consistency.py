"""What a planner would call a contradiction between orders, lines, deliveries and workflows."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from crmflow import Engine
from crmflow.core.domain.customers import rfm_scores
from crmflow.core.domain.timeline import order_timeline

__all__ = ["contradictions"]

#: order_lifecycle / rush_order state -> the order statuses that agree with it
AGREES = {
    "order_lifecycle": {
        "draft": {"draft", "confirmed"}, "awaiting_approval": {"draft"},
        "confirmed": {"confirmed"}, "scheduled": {"scheduled"},
        "in_production": {"in_production"}, "shipped": {"shipped"},
        "delivered": {"delivered"}, "cancelled": {"cancelled"},
    },
    "rush_order": {
        "received": {"confirmed"}, "checks": {"confirmed"},
        "plan_adjustment": {"confirmed"}, "awaiting_approval": {"confirmed"},
        "in_production": {"in_production"}, "shipped": {"shipped"},
        "delivered": {"delivered"}, "rejected": {"confirmed", "shipped", "delivered"},
    },
}  # fmt: skip


def _rows(conn: sa.Connection, sql: str) -> list[Any]:
    return list(conn.execute(sa.text(sql)))


def contradictions(engine: Engine, *, timelines: int = 40) -> list[str]:
    """Every disagreement found; [] when the records tell one story.

    Checks each line's status against its deliveries, each order's status
    against its lines, each order workflow's state against its order, each
    instance's history (chained, forward in time), the timelines of the
    orders that have workflows (and ``timelines`` others), and stored value
    tiers against the computed ones.
    """
    found: list[str] = []
    with engine.db.connect() as conn:
        lines: dict[str, list[tuple[str, str, float, float]]] = defaultdict(list)
        for oid, sku, status, qty, got in _rows(conn, """
            SELECT l.order_id, l.sku, l.status, l.quantity,
                   (SELECT COALESCE(SUM(d.quantity), 0) FROM deliveries d
                     WHERE d.order_id = l.order_id AND d.sku = l.sku)
            FROM order_lines l"""):  # fmt: skip
            lines[oid].append((sku, status, float(qty), float(got)))
        orders = {oid: status for oid, status in _rows(conn, "SELECT order_id, status FROM orders")}
        for oid, status in orders.items():
            mine = lines.get(oid, [])
            for sku, line_status, qty, got in mine:
                full = got >= qty - 1e-9
                if line_status == "delivered" and not full:
                    found.append(f"{oid}/{sku} delivered but only {got:g} of {qty:g} arrived")
                if line_status in ("open", "shipped") and full:
                    found.append(f"{oid}/{sku} {line_status} but delivered in full")
                if line_status == "open" and got > 0:
                    found.append(f"{oid}/{sku} open but {got:g} delivered")
                if line_status == "shipped" and got == 0 and status != "shipped":
                    found.append(f"{oid}/{sku} shipped with nothing delivered, order {status}")
            kinds = {s for _, s, _, _ in mine}
            live = kinds - {"cancelled"}
            expect = {
                "cancelled": bool(mine) and kinds == {"cancelled"},
                "delivered": live == {"delivered"},
                "shipped": bool(live) and "open" not in live and "shipped" in live,
            }
            for wanted, holds in expect.items():
                if holds and status != wanted:
                    found.append(f"order {oid} is {status}, its lines say {wanted} ({kinds})")
                if status == wanted and not holds:
                    found.append(f"order {oid} is {status} but its lines are {sorted(kinds)}")
        with_workflow: set[str] = set()
        for iid, workflow, state, data in _rows(
            conn, "SELECT id, workflow, state, data FROM instances"
        ):
            order = (json.loads(data) or {}).get("order") or {}
            oid = order.get("order_id")
            if workflow in AGREES and oid in orders:
                with_workflow.add(oid)
                if orders[oid] not in AGREES[workflow].get(state, set()):
                    found.append(f"{workflow} #{iid} is {state} but order {oid} is {orders[oid]}")
        history: dict[int, list[Any]] = defaultdict(list)
        for row in _rows(conn, "SELECT instance_id, from_state, to_state, at, \"trigger\" "
                               "FROM history ORDER BY id"):  # fmt: skip
            history[row[0]].append(row)
        for iid, rows in history.items():
            found += _unchained(iid, rows)
            for before, after in zip(rows, rows[1:], strict=False):
                if _when(after[3]) < _when(before[3]):
                    found.append(f"#{iid}: {after[4]} ({after[2]}) at {after[3]} before "
                                 f"{before[4]} ({before[2]}) at {before[3]}")  # fmt: skip
        stored = dict(_rows(conn, "SELECT customer_id, value_tier FROM customers "
                                  "WHERE value_tier IS NOT NULL"))  # fmt: skip
        if stored:
            computed = rfm_scores(conn, engine.now().date())
            for cid, tier in stored.items():
                if computed.get(cid, {}).get("tier") != tier:
                    found.append(f"customer {cid} stores tier {tier}, computed "
                                 f"{computed.get(cid, {}).get('tier')}")  # fmt: skip
    sample = sorted(with_workflow) + sorted(set(orders) - with_workflow)[:timelines]
    for oid in sample:
        found += _timeline_disagrees(engine, oid)
    return found


def _unchained(iid: int, rows: list[Any]) -> list[str]:
    """Each move starts where the last one ended: the instance's, or its region's own.

    A region's move (``checks.capacity.pending`` -> ``checks.capacity.ok``) chains
    on that region's previous move, inside the parallel state the instance is in.
    """
    found = []
    top: str | None = None
    lanes: dict[str, str] = {}
    for _iid, source, target, _at, trigger in rows:
        if source is not None and source.count(".") == 2:  # a region's move
            lane = source.rsplit(".", 1)[0]
            if source.split(".")[0] != top or lanes.get(lane, source) != source:
                found.append(f"#{iid}: {trigger} from {source} after reaching {top}")
            lanes[lane] = target
            continue
        if top is not None and source != top:
            found.append(f"#{iid}: {trigger} from {source} after reaching {top}")
        top, lanes = target, {}
    return found


def _timeline_disagrees(engine: Engine, oid: str) -> list[str]:
    """The order's timeline: placed first, delivered after the workflow says so, not before."""
    timeline = order_timeline(engine, oid)["timeline"]
    whats = [e["what"] for e in timeline]
    found = []
    if not whats or whats[0] != "order placed":
        found.append(f"timeline of {oid} does not start with the order: {whats[:2]}")
    flow = [i for i, e in enumerate(timeline) if e["source"] == "workflow"]
    delivered = [i for i, e in enumerate(timeline) if e["what"].startswith("delivered ")]
    moved = [i for i in flow if timeline[i]["what"].endswith("→ delivered")]
    if delivered and moved and flow and min(delivered) < flow[0]:
        found.append(f"timeline of {oid} delivers before its workflow started")
    return found


def _when(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=None)
