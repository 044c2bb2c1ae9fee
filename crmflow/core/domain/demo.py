"""Load the demo factory: records, forecast snapshots, rush-order history, work in flight."""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.demofolder import DEMO_FACTORY
from crmflow.core.store import reading
from crmflow.errors import CrmflowError, InputError, RefusedError

from ._demo_data import generate
from ._demo_import import import_history
from .impact import order_exposure
from .orders import change_order_line, create_order
from .planning import create_proposal
from .records import Customer, Delivery, Order, OrderLine

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["DEMO_FACTORY", "MIN_CUSTOMERS", "SNAPSHOT_MONTHS", "load_demo"]

#: Months of forecast snapshots: the current one and the twelve full months before it.
SNAPSHOT_MONTHS = 13
#: The fewest customers for a plausible factory (the work in flight orders for 16).
MIN_CUSTOMERS = 30


def load_demo(engine: Engine, *, seed: int = 7, customers: int = 200) -> dict[str, int]:
    """Generate the demo factory into the engine's database; returns row counts.

    Deterministic for a seed and a day (dates are relative to today). A
    database that already holds the demo keeps it: loading twice adds nothing.
    ``customers`` scales the order history down for tests (at least 30).
    """
    if customers < MIN_CUSTOMERS:
        raise InputError(f"the demo needs at least {MIN_CUSTOMERS} customers", field="customers")
    table = Customer.__table__  # type: ignore[attr-defined]
    with reading(engine.db) as conn:
        loaded = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    if not loaded:
        now = engine.now()
        stamp = {"updated_at": now, "updated_by": "demo"}
        data = generate(seed, now.date(), stamp, customers=customers)
        # Through the import service, so statuses follow from deliveries as for a user;
        # no stored value tier: the customer view computes it (customers.rfm_scores).
        import_history(engine, data)
        _forecast_snapshots(engine)
        workflows = {d.id for d in engine.catalog.definitions()}
        if "rush_order" in workflows:
            _rush_history(engine, seed)
        if workflows:
            _in_flight(engine, data.short_skus)
    return _counts(engine)


def _month(first: dt.date, months: int) -> dt.date:
    year, month = divmod(first.year * 12 + first.month - 1 + months, 12)
    return dt.date(year, month + 1, 1)


def _local(engine: Engine, day: dt.date, hours: float) -> dt.datetime:
    """``hours`` after midnight of ``day`` in the factory's time zone, as UTC."""
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=engine.factory.timezone)
    return (midnight + dt.timedelta(hours=hours)).astimezone(dt.UTC)


def _forecast_refresh(engine: Engine) -> Callable[..., int | None] | None:
    """The forecast plugin's ``refresh(engine, now=…)``, or None when it is not enabled.

    No hook stores a snapshot, and the core never imports a plugin by name:
    the enabled plugin registered as ``forecast`` is asked for its public
    ``refresh`` (the function behind ``crmflow forecast-run``).
    """
    if "forecast" not in engine.registry.enabled:
        return None
    refresh: Callable[..., int | None] | None = getattr(
        engine.pm.get_plugin("forecast"), "refresh", None
    )
    return refresh


def _forecast_snapshots(engine: Engine) -> int:
    """One snapshot an hour before each month began, for this month and the year before.

    Each is a real forecast run as of that moment: the plugin forecasts from
    the month the run falls in on, from the demand of the months before it,
    so nothing later than the snapshot is known to it. The latest such
    snapshot is each month's lag-1 forecast (kpis.md).
    """
    refresh = _forecast_refresh(engine)
    if refresh is None:
        return 0
    this_month = engine.now().astimezone(engine.factory.timezone).date().replace(day=1)
    made = 0
    for back in range(SNAPSHOT_MONTHS - 1, -1, -1):  # oldest first: ids follow time
        began = _local(engine, _month(this_month, -back), 0)
        if refresh(engine, now=began - dt.timedelta(hours=1)) is not None:
            made += 1
    return made


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


def _fire(
    engine: Engine, iid: int, trigger: str, actor: str, *, now: dt.datetime | None = None
) -> None:
    result = engine.fire(iid, trigger, actor=actor, now=now)
    if not result.taken:
        raise CrmflowError(f"demo: {trigger} on instance {iid} refused: {result.reason}")


def _instance(engine: Engine, workflow: str, order_id: str) -> int:
    for inst in engine.list(workflow=workflow):
        if inst.data.get("order", {}).get("order_id") == order_id:
            return inst.id
    raise CrmflowError(f"demo: no {workflow} instance for {order_id}")


#: After the first answer, each step of a rush order: trigger, who may take it, median hours.
_RUSH_STEPS = (
    ("capacity_checked", ("paul", "petra"), 0.8),
    ("plan_adjusted", ("petra", "paul"), 1.5),
    ("approve", ("sam", "sam", "mia"), 0.7),
)
#: A planner answers a rush order in about 40 minutes; a third wait past the 30 min deadline.
_ANSWER_MEDIAN_HOURS = 0.65
_REJECTED = 0.1
#: the three parallel checks of a rush order (capacity, material, credit)
_CHECKS = ("capacity_checked", "material_checked", "credit_checked")

Step = tuple[dt.datetime, str, str]  # when, trigger, actor


def _rush_orders(engine: Engine, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
    """The generated rush orders placed from ``since`` to ``until``, with lines and deliveries."""
    o, ln, dl = (t.__table__ for t in (Order, OrderLine, Delivery))  # type: ignore[union-attr]
    with reading(engine.db) as conn:
        orders = [dict(r) for r in conn.execute(
            sa.select(o.c.order_id, o.c.customer_id, o.c.order_date, o.c.sales_rep, o.c.status)
            .where(o.c.priority == "rush", o.c.status != "cancelled",
                   o.c.order_date >= since, o.c.order_date <= until)
            .order_by(o.c.order_date, o.c.order_id)
        ).mappings()]  # fmt: skip
        for order in orders:
            oid = order["order_id"]
            order["lines"] = [dict(r) for r in conn.execute(
                sa.select(ln.c.sku, ln.c.quantity, ln.c.requested_date, ln.c.status)
                .where(ln.c.order_id == oid).order_by(ln.c.sku)).mappings()]  # fmt: skip
            order["deliveries"] = conn.execute(
                sa.select(dl.c.shipped_date, dl.c.delivered_date).where(dl.c.order_id == oid)
            ).all()
            order.update(order_exposure(conn, oid))
    return orders


def _rush_steps(engine: Engine, rng: random.Random, order: dict[str, Any]) -> list[Step]:
    """What happened to a rush order: start, a person's answer, the plan, shipping."""

    def later(t: dt.datetime, median: float) -> dt.datetime:
        return t + dt.timedelta(hours=min(rng.lognormvariate(math.log(median), 0.8), 20))

    started = _local(engine, order["order_date"], rng.uniform(7, 17))
    steps: list[Step] = [(started, "start", order["sales_rep"] or "omar")]
    answered = later(started, _ANSWER_MEDIAN_HOURS)
    if rng.random() < _REJECTED:  # no capacity for it: the planner or supervisor says so
        return [*steps, (answered, "reject", rng.choice(("paul", "petra", "sam")))]
    steps.append((answered, "accept", rng.choice(("paul", "petra", "paul", "sam"))))
    for trigger, who, median in _RUSH_STEPS:
        steps.append((later(steps[-1][0], median), trigger, rng.choice(who)))
    steps[3:3] = _side_checks(order, answered, steps[2][0])
    shipped = [d.shipped_date for d in order["deliveries"]]
    if len(shipped) < len(order["lines"]):
        return steps  # not shipped yet: still in production
    # Shipping and delivery as the deliveries record them, never before the approval.
    ship = _local(engine, max(shipped), rng.uniform(8, 14))
    steps.append((max(steps[-1][0] + dt.timedelta(hours=1), ship), "ship", "leo"))
    if all(line["status"] == "delivered" for line in order["lines"]):
        arrived = _local(engine, max(d.delivered_date for d in order["deliveries"]),
                         rng.uniform(9, 16))  # fmt: skip
        steps.append((max(steps[-1][0] + dt.timedelta(hours=2), arrived), "deliver", "leo"))
    return steps


#: The checks that run beside the capacity check (parallel regions), and who makes them.
_SIDE_CHECKS = (("material_checked", ("bea",)), ("credit_checked", ("mia", "max")))


def _side_checks(order: dict[str, Any], accepted: dt.datetime, capacity: dt.datetime) -> list[Step]:
    """The material and credit checks, made between the answer and the capacity check.

    Their own random stream, so the rest of the demo's history stays as it was.
    """
    rng = random.Random(f"rush-checks-{order['order_id']}")
    span = capacity - accepted
    return sorted(
        (accepted + span * rng.uniform(0.2, 0.95), trigger, rng.choice(who))
        for trigger, who in _SIDE_CHECKS
    )


def _rush_history(engine: Engine, seed: int) -> int:
    """Backdated rush-order instances for the generated rush orders of the last two months.

    Each starts when its order came in and is answered by a person some
    hours later; a deadline that passes first escalates through
    ``engine.tick`` at its due time, as a worker would have fired it. Steps
    and timers run in time order across all orders. Returns the instances.
    """
    rng = random.Random(f"rush-history-{seed}")
    now = engine.now()
    today = now.astimezone(engine.factory.timezone).date()
    orders = _rush_orders(engine, _month(today.replace(day=1), -2), today - dt.timedelta(days=2))
    queue: list[tuple[dt.datetime, int, int, str, str]] = []
    for n, order in enumerate(orders):
        for k, (when, trigger, actor) in enumerate(_rush_steps(engine, rng, order)):
            if when < now:
                queue.append((when, n, k, trigger, actor))
    heapq.heapify(queue)
    ids: dict[int, int] = {}
    timers: dict[int, list[dt.datetime]] = {}

    def due_timers(iid: int) -> list[dt.datetime]:
        return [_aware(t.due) for t in engine.get(iid).timers]

    def run_until(moment: dt.datetime) -> None:
        # Fire each deadline at its own due time, so none fires "late".
        while (due := min((d for ds in timers.values() for d in ds), default=None)) is not None:
            if due > moment:
                return
            engine.tick(now=due)
            for iid, dues in timers.items():
                if min(dues, default=moment) <= due:
                    timers[iid] = due_timers(iid)

    while queue:
        when, n, _k, trigger, actor = heapq.heappop(queue)
        run_until(when)
        order = orders[n]
        if trigger == "start":
            data = {"order": {
                "order_id": order["order_id"], "customer_id": order["customer_id"],
                "priority": "rush", "order_date": order["order_date"].isoformat(),
                "sales_rep": order["sales_rep"], "status": order["status"],
                "amount": order["amount"], "exposure": order["exposure"],
                "lines": [{"sku": x["sku"], "quantity": x["quantity"],
                           "requested_date": x["requested_date"].isoformat()}
                          for x in order["lines"]],
            }}  # fmt: skip
            ids[n] = engine.start("rush_order", data, actor=actor,
                                  key=f"demo:rush:{order['order_id']}", now=when)  # fmt: skip
        else:
            _fire(engine, ids[n], trigger, actor, now=when)
        timers[ids[n]] = due_timers(ids[n])
    run_until(now)
    return len(ids)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _run_timers(engine: Engine, until: dt.datetime) -> None:
    """Fire every timer due by ``until`` at its own due time, as a punctual worker would."""
    while True:
        due = min((_aware(t.due) for inst in engine.list(finished=False) for t in inst.timers),
                  default=None)  # fmt: skip
        if due is None or due > until:
            return
        engine.tick(now=due)


def _quiet_customers(engine: Engine, count: int) -> list[str]:
    """The customers with the least open order value, so the demo's orders stay within credit."""
    o, ln = Order.__table__, OrderLine.__table__  # type: ignore[attr-defined]
    c = Customer.__table__  # type: ignore[attr-defined]
    open_value = (
        sa.select(o.c.customer_id, sa.func.sum(ln.c.quantity * ln.c.unit_price).label("value"))
        .join(ln, ln.c.order_id == o.c.order_id)
        .where(o.c.status.not_in(["delivered", "cancelled"]), ln.c.status.in_(["open", "shipped"]))
        .group_by(o.c.customer_id)
        .subquery()
    )
    query = (
        sa.select(c.c.customer_id)
        .outerjoin(open_value, open_value.c.customer_id == c.c.customer_id)
        .order_by(sa.func.coalesce(open_value.c.value, 0.0), c.c.customer_id)
        .limit(count)
    )
    with reading(engine.db) as conn:
        return list(conn.execute(query).scalars())


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
    quiet = _quiet_customers(engine, len(steps) + 8)
    for n, (state, triggers) in enumerate(steps.items()):
        oid = f"DEMO-{n + 1:03d}"
        qty = 2000 if state == "awaiting_approval" else 10 + n
        with _at(engine, 6 + n):
            create_order(engine, order_id=oid, customer_id=quiet[n], by="rita",
                         sales_rep="rita", lines=[{"sku": made[n % 6], "quantity": qty,
                         "unit_price": 250, "requested_date": due(21 + n)}])  # fmt: skip
        iid = _instance(engine, "order_lifecycle", oid)
        for k, trigger in enumerate(triggers):  # from an hour after the order, 10 min apart
            with _at(engine, 5 + n - k / 6):
                _fire(engine, iid, trigger, actors[trigger])
    rush_paths = {
        "received": [], "received_overdue": [], "checks": ["accept", "capacity_checked"],
        "plan_adjustment": ["accept", *_CHECKS],
        "awaiting_approval": ["accept", *_CHECKS, "plan_adjusted"],
        "in_production": ["accept", *_CHECKS, "plan_adjusted", "approve"],
        "delivered": ["accept", *_CHECKS, "plan_adjusted", "approve", "ship", "deliver"],
        "rejected": ["reject"],
    }  # fmt: skip
    rush_actor = {
        "accept": "paul",
        "capacity_checked": "paul",
        "material_checked": "bea",
        "credit_checked": "mia",
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
                customer_id=quiet[n + 8],
                by="omar",
                sales_rep="omar",
                priority="rush",
                lines=[
                    {"sku": made[n % 6], "quantity": 5, "unit_price": 300, "requested_date": due(5)}
                ],
            )
        iid = _instance(engine, "rush_order", oid)
        for k, trigger in enumerate(triggers):  # a minute apart, in order
            with _at(engine, hours - (k + 1) / 60):
                _fire(engine, iid, trigger, rush_actor[trigger])
    # Demand changes: accepted, waiting for the planner, for the supervisor, adjusted,
    # rejected. Made two hours ago and routed by their timers at their due time; people
    # answer an hour later, so each change's history runs forward in time.
    # Only orders not yet shipped change (DEMO-001 to -004 and the large DEMO-007).
    with _at(engine, 2):
        change_order_line(engine, "DEMO-002", made[1], "quantity", 12, "customer_request", "rita")
        for oid, n in (("DEMO-003", 2), ("DEMO-004", 3), ("DEMO-001", 0), ("DEMO-007", 0)):
            change_order_line(engine, oid, made[n], "quantity", 900, "customer_request", "rita")
        _run_timers(engine, engine.now() + dt.timedelta(seconds=2))
    changes = {i.data["change"]["order_id"]: i.id for i in engine.list(workflow="demand_change")}
    # demand_change v2: the planner's and the supervisor's votes are approval states
    with _at(engine, 1):
        for oid, path in (("DEMO-004", [("approve", "paul")]),
                          ("DEMO-001", [("approve", "paul"), ("approve", "sam")]),
                          ("DEMO-007", [("reject", "petra")])):  # fmt: skip
            for trigger, who in path:
                if engine.get(changes[oid]).state not in ("planner_review", "supervisor_approval"):
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
