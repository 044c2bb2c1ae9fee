"""Delegation of approvals: a person's votes handed to another for a period of days."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike

__all__ = ["delegate", "delegations"]

# The table is the domain's (migration 0002, `reason` from 0110); the engine only needs
# these columns, so it names them here instead of importing the domain's model.
_table = sa.table(
    "delegations",
    sa.column("id", sa.Integer),
    sa.column("approver", sa.String),
    sa.column("delegate", sa.String),
    sa.column("start_date", sa.Date),
    sa.column("end_date", sa.Date),
    sa.column("reason", sa.Text),
    sa.column("created_by", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _day(value: date | str, option: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"{value!r} is not an ISO date such as 2026-03-02", field=option) from exc


def delegate(
    engine: EngineLike, from_person: str, to_person: str, start: date | str,
    until: date | str, *, reason: str | None = None, by: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Hand ``from_person``'s approvals to ``to_person`` from ``start`` to ``until``.

    Both days are included, counted in the factory's time zone: a vote at
    23:30 local time on ``until`` still counts, one at 00:30 the next day not.
    """
    from_person, to_person = str(from_person).strip(), str(to_person).strip()
    if not from_person or not to_person:
        raise InputError("name the person delegating and the delegate", field="FROM")
    if from_person == to_person:
        raise InputError("a person cannot delegate to themselves", field="TO")
    first, last = _day(start, "--from"), _day(until, "--until")
    if last < first:
        raise InputError(f"{last} is before {first}", field="--until")
    values = {
        "approver": from_person, "delegate": to_person, "start_date": first, "end_date": last,
        "reason": reason, "created_by": by or "system", "created_at": engine.now(),
    }  # fmt: skip
    with engine.db.begin() as conn:
        did = conn.execute(_table.insert().values(values).returning(_table.c.id)).scalar_one()
    return _json({**values, "id": did})


def delegations(engine: EngineLike, person: str | None = None) -> list[dict[str, Any]]:
    """Delegations, newest first; ``person`` limits them to those from or to that person."""
    query = sa.select(_table).order_by(_table.c.id.desc())
    if person:
        query = query.where((_table.c.approver == person) | (_table.c.delegate == person))
    with reading(engine.db) as conn:
        return [_json(dict(row)) for row in conn.execute(query).mappings()]


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "from": row["approver"], "to": row["delegate"],
        "from_date": str(row["start_date"]), "until": str(row["end_date"]),
        "reason": row.get("reason"), "by": row.get("created_by"),
    }  # fmt: skip
