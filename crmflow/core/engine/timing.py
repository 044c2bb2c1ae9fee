"""Arm the deadline and timers of a state the instance just entered."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import repository as repo
from .definition import WorkflowDef
from .schedule import add_working_time, next_cron

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["arm_timers", "due_after", "has_timers", "timer_rows"]


def due_after(engine: Engine, start: datetime, delay: timedelta, calendar: str | None) -> datetime:
    """``start`` + ``delay``, counting only working time when ``calendar`` is set."""
    if calendar == "working":
        return add_working_time(start, delay, engine.factory.calendar, engine.factory.timezone)
    return start + delay


def has_timers(definition: WorkflowDef, state: str) -> bool:
    """Whether entering ``state`` arms any row (so leaving it must cancel them)."""
    sdef = definition.states[state]
    return bool(sdef.deadline is not None and sdef.on_timeout) or bool(
        definition.timers_for(state)
    )


def arm_timers(
    conn: sa.Connection, engine: Engine, iid: int, definition: WorkflowDef, state: str,
    entered: datetime,
) -> None:  # fmt: skip
    """Insert the timer rows of ``state``, due from the moment it was ``entered``."""
    repo.insert_timers(conn, timer_rows(engine, iid, definition, state, entered))


def timer_rows(
    engine: Engine, iid: int, definition: WorkflowDef, state: str, entered: datetime
) -> list[dict[str, Any]]:
    """The timer rows ``state`` arms, due from the moment it was ``entered``."""
    sdef = definition.states[state]
    rows: list[dict[str, Any]] = []
    if sdef.deadline is not None and sdef.on_timeout:
        rows.append(
            {
                "instance_id": iid,
                "name": "deadline",
                "kind": "deadline",
                "trigger": sdef.on_timeout,
                "state": state,
                "due": due_after(engine, entered, sdef.deadline, sdef.calendar),
            }
        )
    for timer in definition.timers_for(state):
        if timer.cron:
            due = next_cron(timer.cron, entered, engine.factory.timezone)
            kind = "cron"
        else:
            assert timer.after is not None
            due = due_after(engine, entered, timer.after, timer.calendar)
            kind = "after"
        rows.append(
            {
                "instance_id": iid,
                "name": timer.name,
                "kind": kind,
                "trigger": timer.trigger,
                "state": state,
                "due": due,
            }
        )
    return rows
