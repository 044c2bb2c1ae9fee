"""What waits for people: open alerts, overdue workflow steps by owner, pending demand changes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from crmflow.core.domain.alerts import list_alerts
from crmflow.core.domain.records import DemandChange
from crmflow.core.store import reading
from crmflow.errors import NotFoundError

__all__ = ["overdue_steps", "pending_changes", "worklist"]

_changes = DemandChange.__table__  # type: ignore[attr-defined]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def overdue_steps(engine: Any, now: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Open instances past their state's ``deadline``, grouped by the state's ``owner`` role."""
    by_owner: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # Only states with a deadline can be overdue: read those (workflow, state) pairs alone.
    found: list[Any] = []
    for definition in engine.catalog.definitions():
        for name, spec in definition.states.items():
            if spec.deadline is not None and not spec.final:
                found += engine.list(workflow=definition.id, state=name, finished=False)
    for inst in found:
        try:
            definition = engine.catalog.newest(inst.workflow).definition
        except NotFoundError:
            continue
        state = definition.states.get(inst.state)
        if state is None or state.deadline is None:
            continue
        entered = inst.entered_at if inst.entered_at.tzinfo else inst.entered_at.replace(
            tzinfo=dt.UTC)  # fmt: skip
        due = entered + state.deadline
        if due < now:
            by_owner[state.owner or "-"].append({
                "id": inst.id, "workflow": inst.workflow, "state": inst.state,
                "due": due.isoformat(), "late_hours": round((now - due).total_seconds() / 3600, 1),
            })  # fmt: skip
    return {owner: sorted(items, key=lambda i: i["due"]) for owner, items in sorted(
        by_owner.items())}  # fmt: skip


def pending_changes(engine: Any) -> list[dict[str, Any]]:
    """Demand changes waiting for a decision, oldest first."""
    query = sa.select(_changes).where(_changes.c.approval_state == "pending").order_by(
        _changes.c.changed_at, _changes.c.id)  # fmt: skip
    with reading(engine.db) as conn:
        return [{k: _iso(v) for k, v in row.items()} for row in conn.execute(query).mappings()]


def worklist(engine: Any) -> dict[str, Any]:
    """Open alerts, overdue steps by owner and pending demand changes, as of the engine's now."""
    with reading(engine.db) as conn:
        alerts = [{k: _iso(v) for k, v in a.items() if k != "open_key"} for a in list_alerts(conn)]
    return {"alerts": alerts, "overdue": overdue_steps(engine, engine.now()),
            "changes": pending_changes(engine)}  # fmt: skip
