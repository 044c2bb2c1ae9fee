"""Load the demo factory: generated records, then workflows in flight in every state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import CrmflowError, RefusedError

from ._demo_data import generate
from .customers import rfm_scores
from .orders import change_order_line, create_order
from .planning import create_proposal
from .records import DOMAIN_TABLES, Customer

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["DEMO_FACTORY", "load_demo"]

DEMO_FACTORY = Path(__file__).resolve().parents[3] / "examples" / "demo" / "factory.yaml"

_ORDER = (
    "production_lines", "customers", "contacts", "products", "orders", "order_lines",
    "deliveries", "inventory_snapshots", "inventory_positions", "capacity_days",
    "production_plans", "purchases",
)  # fmt: skip


def load_demo(engine: Engine, *, seed: int = 7) -> dict[str, int]:
    """Generate the demo factory into the engine's database; returns row counts.

    Deterministic for a seed and a day (dates are relative to today). A
    database that already holds the demo keeps it: loading twice adds nothing.
    """
    customers = Customer.__table__  # type: ignore[attr-defined]
    with reading(engine.db) as conn:
        loaded = conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar()
    if not loaded:
        now = engine.now()
        stamp = {"updated_at": now, "updated_by": "demo"}
        data = generate(seed, now.date(), stamp)
        tables = {t.name: t for t in DOMAIN_TABLES}
        with engine.db.begin() as conn:
            for name in _ORDER:
                rows = data.rows.get(name, [])
                for start in range(0, len(rows), 5000):
                    conn.execute(tables[name].insert(), rows[start : start + 5000])
            for cid, scores in rfm_scores(conn, now.date()).items():
                conn.execute(customers.update().where(customers.c.customer_id == cid)
                             .values(value_tier=scores["tier"]))  # fmt: skip
        if engine.catalog.definitions():
            _in_flight(engine, data.short_skus)
    return _counts(engine)


def _counts(engine: Engine) -> dict[str, int]:
    names = ("customers", "products", "orders", "order_lines", "deliveries",
             "inventory_snapshots", "capacity_days", "alerts", "instances")  # fmt: skip
    with reading(engine.db) as conn:
        return {n: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {n}")).scalar() or 0)
                for n in names}  # fmt: skip


@contextmanager
def _at(engine: Engine, hours_ago: float) -> Iterator[None]:
    """Run as if it were ``hours_ago`` hours earlier, so deadlines in the demo are overdue."""
    real = engine.clock
    moment = real() - dt.timedelta(hours=hours_ago)
    engine.clock = lambda: moment
    try:
        yield
    finally:
        engine.clock = real


def _fire(engine: Engine, iid: int, trigger: str, actor: str, **data: Any) -> None:
    result = engine.fire(iid, trigger, data=data or None, actor=actor)
    if not result.taken:
        raise CrmflowError(f"demo: {trigger} on instance {iid} refused: {result.reason}")


def _instance(engine: Engine, workflow: str, order_id: str) -> int:
    for inst in engine.list(workflow=workflow):
        if inst.data.get("order", {}).get("order_id") == order_id:
            return inst.id
    raise CrmflowError(f"demo: no {workflow} instance for {order_id}")


def _in_flight(engine: Engine, short: list[tuple[str, str]]) -> None:
    today = engine.now().date()

    def due(days: int) -> str:
        return (today + dt.timedelta(days=days)).isoformat()

    # Inventory alerts: one per short SKU; some approved, one rejected, one recovered.
    alerts = []
    for i, (sku, location) in enumerate(short):
        with reading(engine.db) as conn:
            level = conn.execute(
                sa.text("SELECT on_hand FROM inventory_positions WHERE sku=:s"), {"s": sku}
            ).scalar()
        with _at(engine, 30 - 3 * i):
            alerts += engine.emit(
                "inventory.changed", {"sku": sku, "location": location, "on_hand": level}
            ).started
    for n, iid in enumerate(alerts[:3]):
        if n == 2:
            _fire(engine, iid, "reject", "paul")
            continue
        for who in ("bea", "sam", "mia", "max"):  # until the chain for the amount is complete
            if engine.get(iid).state != "awaiting_approval":
                break
            try:
                engine.fire(iid, "approve", actor=who)
            except RefusedError:
                continue  # not an approver for this amount; the next one is
    if short:
        sku, location = short[-1]
        engine.emit("inventory.changed", {"sku": sku, "location": location, "on_hand": 10000})
    # Orders through their lifecycle, and rush orders with overdue steps.
    made = ("GE-001", "PU-002", "VA-003", "MO-004", "CO-005", "AS-006")
    steps = {
        "draft": [], "confirmed": ["submit"], "scheduled": ["submit", "schedule"],
        "in_production": ["submit", "schedule", "start_production"],
        "shipped": ["submit", "schedule", "start_production", "ship"],
        "delivered": ["submit", "schedule", "start_production", "ship", "deliver"],
        "awaiting_approval": ["submit"], "cancelled": ["cancel"],
    }  # fmt: skip
    actors = {
        "submit": "rita",
        "schedule": "paul",
        "start_production": "sam",
        "ship": "leo",
        "deliver": "leo",
        "cancel": "rita",
    }
    for n, (state, triggers) in enumerate(steps.items()):
        oid = f"DEMO-{n + 1:03d}"
        qty = 2000 if state == "awaiting_approval" else 10 + n
        with _at(engine, 6 + n):
            create_order(engine, order_id=oid, customer_id=f"C{n + 1:03d}", by="rita",
                         sales_rep="rita", lines=[{"sku": made[n % 6], "quantity": qty,
                         "unit_price": 250, "requested_date": due(21 + n)}])  # fmt: skip
        iid = _instance(engine, "order_lifecycle", oid)
        for trigger in triggers:
            _fire(engine, iid, trigger, actors[trigger])
    rush_paths = {
        "received": [], "received_overdue": [], "capacity_check": ["accept"],
        "plan_adjustment": ["accept", "capacity_checked"],
        "awaiting_approval": ["accept", "capacity_checked", "plan_adjusted"],
        "in_production": ["accept", "capacity_checked", "plan_adjusted", "approve"],
        "delivered": ["accept", "capacity_checked", "plan_adjusted", "approve", "ship",
                      "deliver"],
        "rejected": ["reject"],
    }  # fmt: skip
    rush_actor = {
        "accept": "paul",
        "capacity_checked": "paul",
        "plan_adjusted": "petra",
        "approve": "sam",
        "ship": "leo",
        "deliver": "leo",
        "reject": "sam",
    }
    for n, (label, triggers) in enumerate(rush_paths.items()):
        oid = f"RUSH-{n + 1:03d}"
        hours = 3 if label in ("received_overdue", "awaiting_approval") else 0.2
        with _at(engine, hours):
            create_order(
                engine,
                order_id=oid,
                customer_id=f"C{n + 20:03d}",
                by="omar",
                sales_rep="omar",
                priority="rush",
                lines=[
                    {"sku": made[n % 6], "quantity": 5, "unit_price": 300, "requested_date": due(5)}
                ],
            )
            iid = _instance(engine, "rush_order", oid)
            for trigger in triggers:
                _fire(engine, iid, trigger, rush_actor[trigger])
    # Demand changes: accepted, waiting for the planner, for the supervisor, adjusted, rejected.
    change_order_line(engine, "DEMO-002", made[1], "quantity", 12, "customer_request", "rita")
    for n, oid in enumerate(("DEMO-003", "DEMO-004", "DEMO-005", "DEMO-006")):
        change_order_line(
            engine, oid, made[(n + 2) % 6], "quantity", 900, "customer_request", "rita"
        )
    engine.tick(engine.now() + dt.timedelta(seconds=2))
    changes = {i.data["change"]["order_id"]: i.id for i in engine.list(workflow="demand_change")}
    for oid, path in (("DEMO-004", [("accept", "paul")]),
                      ("DEMO-005", [("accept", "paul"), ("approve", "sam")]),
                      ("DEMO-006", [("reject", "petra")])):  # fmt: skip
        for trigger, who in path:
            if trigger == "accept" and engine.get(changes[oid]).state != "planner_review":
                continue
            _fire(engine, changes[oid], trigger, who)
    # Production adjustment approvals: pending, approved (two approvers), rejected.
    for amount, path in ((800.0, []), (3000.0, [("approve", "sam"), ("approve", "mia")]),
                         (20000.0, [("reject", "max")])):  # fmt: skip
        with engine.db.begin() as conn:
            prop = create_proposal(
                conn,
                sku=made[0],
                kind="plan_adjustment",
                quantity=20,
                amount=amount,
                by="petra",
                now=engine.now(),
                reason="demo: capacity rebalancing",
            )
        iid = engine.emit(
            "production.adjustment_proposed",
            {"subject": prop["subject"], "amount": amount, "requested_by": "petra"},
        ).started[0]
        for trigger, who in path:
            _fire(engine, iid, trigger, who)
