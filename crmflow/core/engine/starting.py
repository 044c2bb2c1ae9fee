"""Start an instance: the row, the `start` history row, on_enter, timers, automatic moves."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading

from . import groupcommit
from . import repository as repo
from .actionrun import OUTBOX_COLUMNS, outbox_row, render_params, run_inline
from .machine import CompiledWorkflow
from .regions import entered_regions, initial_states, regions_json
from .results import TransitionRecord
from .timing import arm_timers

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike

__all__ = ["existing_start", "start_in"]


def existing_start(
    db: sa.Engine, workflow: str, key: str | None, open_key: str | None
) -> int | None:
    """The instance an idempotent or unique start already created, if any."""
    i = repo.instances
    with reading(db) as conn:
        for column, value in ((i.c.start_key, key), (i.c.open_key, open_key)):
            if value is None:
                continue
            found = conn.execute(
                sa.select(i.c.id).where(i.c.workflow == workflow, column == value)
            ).scalar()
            if found is not None:
                return int(found)
    return None


def start_in(
    engine: EngineLike,
    conn: sa.Connection,
    compiled: CompiledWorkflow,
    data: dict[str, Any],
    actor: str | None,
    key: str | None,
    open_key: str | None,
    now: datetime,
) -> tuple[int, list[TransitionRecord], bool]:
    """Insert the instance, its `start` row, the initial state's actions, timers and moves."""
    definition = compiled.definition
    if key is not None:
        found = conn.execute(
            sa.select(repo.instances.c.id).where(
                repo.instances.c.workflow == definition.id,
                repo.instances.c.start_key == key,
            )
        ).scalar()
        if found is not None:
            return int(found), [], False
    initial = definition.states[definition.initial]
    data = copy.deepcopy(data)
    iid = int(
        conn.execute(
            repo.instances.insert()
            .values(
                workflow=definition.id,
                version=definition.version,
                state=initial.name,
                data=repo.dumps(data),
                rev=1,
                finished=initial.final,
                open_key=None if initial.final else open_key,
                start_key=key,
                created_at=now,
                updated_at=now,
                entered_at=now,
                created_by=actor,
                regions=regions_json(entered_regions(definition, initial.name)),
            )
            .returning(repo.instances.c.id)
        ).scalar_one()
    )
    hid = repo.insert_history(
        conn, iid=iid, trigger="start", from_state=None, to_state=initial.name,
        actor=actor, at=now, payload=data, key=key,
    )  # fmt: skip
    queued = False
    entering = [(initial.name, spec) for spec in initial.on_enter] + [
        (s, spec) for s in initial_states(definition, initial.name)
        for spec in definition.states[s].on_enter
    ]  # fmt: skip
    for index, (state, spec) in enumerate(entering):
        params = render_params(engine, spec, data, data, state, now, actor, actor)
        if engine.registry.actions[spec.action].option("outbox", False):
            row = outbox_row(engine, iid, hid, index, spec, params, now)
            values = dict(zip(OUTBOX_COLUMNS, row, strict=True))
            conn.execute(repo.outbox.insert().values(values))
            queued = True
        else:
            run_inline(
                engine, conn, iid, definition, hid, index, state, spec, params, data,
                actor, now, started_by=actor, started_at=now,
            )  # fmt: skip
    if entering:
        conn.execute(
            repo.instances.update().where(repo.instances.c.id == iid).values(data=repo.dumps(data))
        )
    if not initial.final:
        regions = initial_states(definition, initial.name)
        since = {"start": now, initial.name: now, **dict.fromkeys(regions, now)}
        arm_timers(conn, engine, iid, definition, initial.name, now, since)
        for state in regions:
            if not definition.states[state].final:
                arm_timers(conn, engine, iid, definition, state, now, since)
    record = TransitionRecord(
        iid, definition.id, definition.version, "start", None, initial.name, actor, now,
        data, hid,
    )  # fmt: skip
    records = [record]
    if definition.autos_from(initial.name) or initial.call is not None:
        _result, more, moved_queued = groupcommit.settle(engine, conn, iid, data, actor, now)
        records.extend(more)
        queued = queued or moved_queued
    return iid, records, queued
