"""Arm the deadline and timers of a state the instance just entered."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import repository as repo
from .definition import TimerDef, WorkflowDef
from .schedule import add_working_time, next_cron

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["arm_timers", "due_after", "every_name", "has_timers", "timer_rows"]


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
    entered: datetime, since: Mapping[str, datetime] | None = None,
) -> None:  # fmt: skip
    """Insert the timer rows of ``state``, due from the moment it was ``entered``."""
    repo.insert_timers(conn, timer_rows(engine, iid, definition, state, entered, since))


def every_name(timer: TimerDef, count: int) -> str:
    """The row name of the ``count``-th firing of an `every:` timer."""
    return f"{timer.name}:{count}"


def timer_rows(
    engine: Engine, iid: int, definition: WorkflowDef, state: str, entered: datetime,
    since: Mapping[str, datetime] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The timer rows ``state`` arms, due from the moment it was ``entered``.

    A `since:` timer counts from ``since[timer.since]`` (the instance's start,
    or the first time it entered that state), so moving between its states
    arms it at the same due time again; it is not armed while ``since`` lacks
    its state (never entered yet); an `every:` timer's first period.
    """
    sdef = definition.states[state]
    rows: list[dict[str, Any]] = []
    if sdef.deadline is not None and sdef.on_timeout:
        rows.append(
            {
                "instance_id": iid,
                # regions' deadlines run side by side: each row is named after its state
                "name": "deadline" if sdef.region is None else f"deadline:{state}",
                "kind": "deadline",
                "trigger": sdef.on_timeout,
                "state": state,
                "due": due_after(engine, entered, sdef.deadline, sdef.calendar),
            }
        )
    for timer in definition.timers_for(state):
        name = timer.name
        if timer.cron:
            due = next_cron(timer.cron, entered, engine.factory.timezone)
            kind = "cron"
        elif timer.every is not None:
            due = due_after(engine, entered, timer.every, timer.calendar)
            kind, name = "every", every_name(timer, 1)
        elif timer.since is not None:
            assert timer.after is not None
            if since is not None and timer.since not in since:
                continue  # the instance never entered that state: the count has not begun
            base = (since or {}).get(timer.since, entered)
            due = due_after(engine, base, timer.after, timer.calendar)
            kind = "since"
        else:
            assert timer.after is not None
            due = due_after(engine, entered, timer.after, timer.calendar)
            kind = "after"
        rows.append(
            {
                "instance_id": iid,
                "name": name,
                "kind": kind,
                "trigger": timer.trigger,
                "state": state,
                "due": due,
            }
        )
    return rows
