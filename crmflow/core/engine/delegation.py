"""Delegation of approvals: a person's votes handed to another for a period of days."""

from __future__ import annotations

import difflib
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
    The delegate is a person of the factory (a user or a department's member), not
    ``from_person``; a person's delegations do not overlap (one delegate a day).
    """
    from_person, to_person = str(from_person).strip(), str(to_person).strip()
    if not from_person or not to_person:
        raise InputError("name the person delegating and the delegate", field="FROM")
    if from_person == to_person:
        raise InputError("a person cannot delegate to themselves", field="TO")
    people = engine.factory.people
    if to_person not in people:
        hint = difflib.get_close_matches(to_person, sorted(people), n=1)
        advice = f"; did you mean {hint[0]!r}?" if hint else ""
        raise InputError(
            f"{to_person!r} is not a person of this factory (its users and department "
            f"members){advice}",
            field="TO",
        )
    first, last = _day(start, "--from"), _day(until, "--until")
    if last < first:
        raise InputError(f"{last} is before {first}", field="--until")
    values = {
        "approver": from_person, "delegate": to_person, "start_date": first, "end_date": last,
        "reason": reason, "created_by": by or "system", "created_at": engine.now(),
    }  # fmt: skip
    with engine.db.begin() as conn:
        _refuse_overlap(conn, from_person, first, last)
        did = conn.execute(_table.insert().values(values).returning(_table.c.id)).scalar_one()
    return _json({**values, "id": did})


def _refuse_overlap(conn: sa.Connection, person: str, first: date, last: date) -> None:
    """One delegate a day: a delegation of ``person`` that shares a day is refused."""
    if conn.dialect.name == "postgresql":  # two at once: the second waits for the first
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": person})
    t = _table
    other = conn.execute(
        sa.select(t.c.delegate, t.c.start_date, t.c.end_date)
        .where(t.c.approver == person, t.c.start_date <= last, t.c.end_date >= first)
        .order_by(t.c.start_date)
        .limit(1)
    ).first()
    if other is not None:
        raise InputError(
            f"{person} already hands their approvals to {other.delegate} from "
            f"{other.start_date} to {other.end_date}, which overlaps {first} to {last}; "
            "choose days outside it",
            field="--from",
        )


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
