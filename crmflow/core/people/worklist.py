"""A person's work: the inbox (open steps they own or may act on), search, demand changes."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.domain.records import Alert, Customer, Order, OrderLine
from crmflow.core.engine.results import Instance
from crmflow.core.engine.tables import InstanceRow, TimerRow
from crmflow.core.store import reading
from crmflow.errors import InputError, NotFoundError

from .authz import Person, available_triggers, require, state_title

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = [
    "INBOX_LIMIT",
    "inbox",
    "open_alerts",
    "order_lines",
    "preview_change",
    "record_change",
    "search",
]

INBOX_LIMIT = 100
_instances = InstanceRow.__table__  # type: ignore[attr-defined]
_timers = TimerRow.__table__  # type: ignore[attr-defined]
_customers = Customer.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]
_lines = OrderLine.__table__  # type: ignore[attr-defined]
_alerts = Alert.__table__  # type: ignore[attr-defined]


def _steps_for(engine: Engine, person: Person) -> list[tuple[str, str]]:
    """(workflow, state) pairs the person owns or has a role-restricted trigger in."""
    pairs: list[tuple[str, str]] = []
    for definition in engine.catalog.definitions():
        for name, sdef in definition.states.items():
            if sdef.final:
                continue
            owns = sdef.owner is not None and sdef.owner in person.roles
            acts = any(
                name in t.sources and t.roles and not person.roles.isdisjoint(t.roles)
                for t in definition.transitions
            )
            if owns or acts:
                pairs.append((definition.id, name))
    return pairs


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def inbox(engine: Engine, person: Person, *, limit: int = INBOX_LIMIT) -> list[dict[str, Any]]:
    """Open steps the person owns or may act on, soonest deadline first, overdue marked."""
    pairs = _steps_for(engine, person)
    if not pairs:
        return []
    due = (
        sa.select(_timers.c.instance_id, sa.func.min(_timers.c.due).label("due"))
        .where(_timers.c.kind == "deadline")
        .group_by(_timers.c.instance_id)
        .subquery()
    )
    wanted = sa.or_(*[
        sa.and_(_instances.c.workflow == w, _instances.c.state == s) for w, s in pairs
    ])  # fmt: skip
    query = (
        sa.select(_instances, due.c.due)
        .outerjoin(due, due.c.instance_id == _instances.c.id)
        .where(_instances.c.finished == sa.false(), wanted)
        .order_by(due.c.due.is_(None), due.c.due, _instances.c.id.desc())
        .limit(limit)
    )
    with reading(engine.db) as conn:
        rows = conn.execute(query).all()
    now = engine.now()
    items = []
    for row in rows:
        data = json.loads(row.data) if isinstance(row.data, str) else dict(row.data or {})
        inst = Instance(
            id=row.id, workflow=row.workflow, version=row.version, state=row.state, data=data,
            rev=row.rev, finished=bool(row.finished), created_at=_utc(row.created_at) or now,
            updated_at=_utc(row.updated_at) or now, entered_at=_utc(row.entered_at) or now,
        )  # fmt: skip
        deadline = _utc(row.due)
        definition = engine.catalog.newest(row.workflow).definition
        sdef = definition.states.get(row.state)
        items.append({
            "instance_id": row.id, "workflow": row.workflow, "state": row.state,
            "title": state_title(engine, row.workflow, row.state, person.language),
            "workflow_title": definition.title or row.workflow,
            "owner": sdef.owner if sdef else None,
            "due": deadline.isoformat() if deadline else None,
            "overdue": bool(deadline and deadline < now),
            "triggers": available_triggers(engine, person, inst),
            "subject": _subject(data),
        })  # fmt: skip
    return items


def _subject(data: dict[str, Any]) -> str | None:
    """A short label of what an instance is about (order id, SKU, subject), if its data has one."""
    for entity in data.values():
        if isinstance(entity, dict):
            for key in ("order_id", "subject", "sku", "customer_id", "number"):
                if entity.get(key) not in (None, ""):
                    return str(entity[key])
    return None


def open_alerts(
    engine: Engine, *, sku: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:  # fmt: skip
    query = sa.select(_alerts).where(_alerts.c.status == "open").order_by(_alerts.c.id.desc())
    if sku is not None:
        query = query.where(_alerts.c.sku == sku)
    with reading(engine.db) as conn:
        return [dict(r) for r in conn.execute(query.limit(limit)).mappings()]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(engine: Engine, text: str, *, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
    """Customers and orders whose id or name contains ``text`` (case-insensitive)."""
    text = (text or "").strip()
    if not text:
        return {"customers": [], "orders": []}
    if len(text) > 100 or "\x00" in text:
        raise InputError("must be at most 100 characters", field="q")
    pattern = _like(text.lower())
    with reading(engine.db) as conn:
        customers = conn.execute(
            sa.select(_customers.c.customer_id, _customers.c.name, _customers.c.region)
            .where(sa.or_(sa.func.lower(_customers.c.name).like(pattern, escape="\\"),
                          sa.func.lower(_customers.c.customer_id).like(pattern, escape="\\")))
            .order_by(_customers.c.name).limit(limit)
        ).mappings().all()  # fmt: skip
        orders = conn.execute(
            sa.select(_orders.c.order_id, _orders.c.customer_id, _orders.c.order_date,
                      _orders.c.status, _customers.c.name.label("customer_name"))
            .join(_customers, _customers.c.customer_id == _orders.c.customer_id)
            .where(sa.or_(sa.func.lower(_orders.c.order_id).like(pattern, escape="\\"),
                          sa.func.lower(_customers.c.name).like(pattern, escape="\\")))
            .order_by(_orders.c.order_date.desc()).limit(limit)
        ).mappings().all()  # fmt: skip
    return {"customers": [dict(c) for c in customers], "orders": [dict(o) for o in orders]}


def order_lines(engine: Engine, order_id: str) -> list[dict[str, Any]]:
    with reading(engine.db) as conn:
        rows = conn.execute(sa.select(_lines).where(_lines.c.order_id == order_id)
                            .order_by(_lines.c.sku)).mappings().all()  # fmt: skip
    return [dict(r) for r in rows]


def _check_change(sku: Any, field: Any, new: Any, reason: Any) -> None:
    from crmflow.core.domain.orders import LINE_FIELDS

    for name, value in (("sku", sku), ("field", field), ("reason", reason)):
        if not isinstance(value, str) or not value.strip():
            raise InputError("is required", field=name)
    if field not in LINE_FIELDS:
        raise InputError(f"must be one of {', '.join(LINE_FIELDS)}", field="field")
    if new is None or (isinstance(new, str) and not new.strip()):
        raise InputError("is required", field="new")


def preview_change(
    engine: Engine, person: Person, order_id: str, sku: str, field: str, new: Any,
) -> dict[str, Any]:  # fmt: skip
    """What recording the change would do (CTP date, plan and capacity, tolerance); no write."""
    from crmflow.core.domain.impact import change_impact
    from crmflow.core.domain.orders import LINE_FIELDS

    require(engine, person, "change_order")
    _check_change(sku, field, new, "preview")
    assert field in LINE_FIELDS
    lines = {line["sku"]: line for line in order_lines(engine, order_id)}
    if not lines:
        raise NotFoundError(f"no order {order_id!r}")
    if sku not in lines:
        raise NotFoundError(f"order {order_id!r} has no line for sku {sku!r}")
    value = _parsed(field, new, engine.now().date())
    old = lines[sku][field]
    with reading(engine.db) as conn:
        impact = change_impact(engine, conn, order_id, sku, field, _iso(old), _iso(value))
    return {"order_id": order_id, "sku": sku, "field": field, "old": _iso(old),
            "new": _iso(value), "impact": impact}  # fmt: skip


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _parsed(field: str, new: Any, today: dt.date) -> Any:
    from crmflow.core.domain.orders import parse_new_value

    return parse_new_value(field, new, today)


def record_change(
    engine: Engine, person: Person, order_id: str, sku: str, field: str, new: Any, reason: str,
) -> dict[str, Any]:  # fmt: skip
    """Record a demand change as the person; it then follows the demand_change workflow."""
    from crmflow.core.domain.orders import change_order_line

    require(engine, person, "change_order")
    _check_change(sku, field, new, reason)
    if len(reason) > 500:
        raise InputError("must be at most 500 characters", field="reason")
    return change_order_line(engine, order_id, sku, field, new, reason, person.username)
