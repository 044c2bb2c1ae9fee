"""Sub-workflows: a `call:` state starts its children, follows their moves, cancels them.

The write step calls in here while it applies an event (:func:`moved`, inside
the event's savepoint) and once it is applied (:func:`after_apply`): a parent
entering a `call:` state starts its children (same transaction, ``parent_id``
set, ``data.children`` listing them); a child's move updates its entry in the
parent's data, and the last child to finish moves the parent to ``on_done``;
a parent leaving the state early cancels the children still open.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from crmflow.errors import ExpressionError, RefusedError

from . import repository as repo
from .decide import Decision, Snapshot
from .definition import CallDef
from .expressions import render_value
from .heldrow import HeldInstance
from .results import FireResult, TransitionRecord
from .routing import Step, plan_of
from .sqlstatements import Statements

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike

__all__ = [
    "CANCEL", "DONE", "BatchLike", "after_apply", "child_moved", "moved", "open_children",
    "render_children", "start_initial",
]  # fmt: skip

#: history trigger of a parent entering `on_done` when its last child finished
DONE = "done"
#: history trigger of a child cancelled because its parent left the call state
CANCEL = "cancel"

Moved = tuple[list[TransitionRecord], bool]


class BatchLike(Protocol):
    """What this module uses of the write step's batch (groupcommit.Batch)."""

    engine: EngineLike
    conn: Any
    cur: Any
    st: Statements
    now: datetime
    at: Any
    history: list[tuple[Any, ...]]
    drop_timers: list[tuple[int]]

    def reload(self, iid: int, *, lock: bool = False) -> HeldInstance | None: ...

    def flush(self) -> None: ...

    def history_id(self) -> int: ...

    def restart_ids(self) -> None: ...

    def write_early(self, work: Any) -> None: ...

    def apply(
        self, inst: HeldInstance, snap: Snapshot, decision: Decision, trigger: str,
        payload: dict[str, Any], key: str | None, actor: str | None,
    ) -> tuple[FireResult, list[TransitionRecord], bool]: ...  # fmt: skip


def render_children(
    engine: EngineLike, call: CallDef, data: dict[str, Any], state: str,
    actor: str | None, started_by: str | None, now: datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """The data of each child to start: one per `for_each` item (as ``item``), or one."""
    context = engine.expression_context(data, {}, state, now, actor=actor, started_by=started_by)
    if call.for_each is None:
        items: list[Any] = [None]
    else:
        value = call.for_each(context)
        if not isinstance(value, list | tuple):
            raise RefusedError(
                f"call: for_each {call.for_each.source!r} in state {state!r} gave "
                f"{type(value).__name__} {str(value)[:80]!r}, not a list",
                reason="call",
            )
        items = list(value)
    children = []
    for item in items:
        scope = context if call.for_each is None else {**context, "item": item}
        child = render_value(call.data, scope) if call.data is not None else {}
        if not isinstance(child, dict):
            raise RefusedError(f"call: data in state {state!r} is not a mapping", reason="call")
        children.append(child)
    return children


def moved(
    batch: BatchLike, inst: HeldInstance, step: Step, data: dict[str, Any], actor: str | None,
    work: Any,
) -> tuple[Step | None, str | None]:  # fmt: skip
    """A step of an event left or entered a `call:` state (inside the event's savepoint).

    Leaving notes the open children for cancelling once the event is applied.
    Entering starts the children now, after the event's history rows so far,
    and lists them in ``data``; none left open, the step into `on_done` is
    returned. A `for_each` or `data` that cannot be used is the refusal (second).
    """
    states = inst.memo.definition.states
    if states[step.source].call is not None:
        work.cancel.extend((cid, step.source) for cid in open_children(batch, inst.id))
    call = states[step.target].call
    if call is None:
        return None, None
    try:
        children = render_children(
            batch.engine, call, data, step.target, actor, inst.started_by, batch.now
        )
    except (RefusedError, ExpressionError) as exc:  # for_each or data unusable: refused
        return None, str(exc) if str(exc).startswith("call:") else f"call: {exc}"
    batch.write_early(work)
    entries, still_open, records, queued = _start(batch, inst, call, children)
    work.records.extend(records)
    work.queued = work.queued or queued
    data["children"] = entries
    if still_open:
        return None, None
    return plan_of(inst.memo, DONE, step.target, call.on_done), None


def _start(
    batch: BatchLike, inst: HeldInstance, call: CallDef, children: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int, list[TransitionRecord], bool]:
    """Start the children (parent set); their entries, how many are open, records, queued."""
    entries: list[dict[str, Any]] = []
    records: list[TransitionRecord] = []
    queued = False
    still_open = 0
    for child_data in children:
        # A child runs on behalf of the case's initiator: its `started_by` is the
        # parent's, so four eyes in the child keeps the person who proposed it out.
        cid, started, q = batch.engine.start_child(batch.conn, call.workflow, child_data,
                                                   inst.started_by, batch.now)  # fmt: skip
        records.extend(started)
        queued = queued or q
        batch.cur.execute(batch.st.set_parent, (inst.id, cid))
        batch.cur.execute(batch.st.select_instance, (cid,))
        row = batch.cur.fetchone()
        entries.append({"id": cid, "workflow": call.workflow, "state": row[3]})
        still_open += not row[6]
    batch.restart_ids()  # the children's history rows took ids after the batch's
    return entries, still_open, records, queued


def start_initial(batch: BatchLike, inst: HeldInstance, actor: str | None) -> Moved:
    """An instance that starts in a `call:` state starts its children (start's transaction)."""
    call = inst.memo.definition.states[inst.state].call
    assert call is not None
    children = render_children(
        batch.engine, call, inst.data, inst.state, actor, inst.started_by, batch.now
    )
    batch.flush()
    entries, still_open, records, queued = _start(batch, inst, call, children)
    data = copy.deepcopy(inst.data)
    data["children"] = entries
    inst.set_data(data)
    inst.rev, inst.dirty = inst.rev + 1, True
    if still_open:
        return records, queued
    more, q = _done(batch, inst, call, actor)
    return records + more, queued or q


def _done(batch: BatchLike, inst: HeldInstance, call: CallDef, actor: str | None) -> Moved:
    """Every child has finished: the parent enters `on_done` (and its automatic moves).

    The move is the event's, like an automatic transition: its actor is the
    actor of the event that finished the last child (or entered the state).
    """
    step = plan_of(inst.memo, DONE, inst.state, call.on_done)
    snap = Snapshot(inst.id, inst.state, inst.started_by, lambda: inst.data)
    result, records, queued = batch.apply(inst, snap, Decision(step), DONE, {}, None, actor)
    if not result.taken:
        raise RefusedError(result.reason or "call: on_done refused", reason=result.code or "call")
    return records, queued


def child_moved(batch: BatchLike, inst: HeldInstance, actor: str | None) -> Moved:
    """A child moved: its entry in the parent's data follows; the last one done: on_done."""
    assert inst.parent_id is not None
    parent = batch.reload(inst.parent_id, lock=True)
    if parent is None or parent.finished:
        return [], False
    entries = parent.data.get("children")
    if not isinstance(entries, list):
        return [], False
    index = next((n for n, e in enumerate(entries)
                  if isinstance(e, dict) and e.get("id") == inst.id), None)  # fmt: skip
    if index is None:
        return [], False  # a child of an earlier visit of the call state
    if entries[index].get("state") != inst.state:
        data = copy.deepcopy(parent.data)
        data["children"][index]["state"] = inst.state
        parent.set_data(data)
        parent.rev, parent.dirty = parent.rev + 1, True
    call = parent.memo.definition.states[parent.state].call
    if call is None or not inst.finished:
        return [], False
    listed = {e.get("id") for e in entries if isinstance(e, dict)}
    if any(cid in listed for cid in open_children(batch, parent.id)):
        return [], False
    return _done(batch, parent, call, actor)


def open_children(batch: BatchLike, iid: int) -> list[int]:
    """The children of ``iid`` not finished (as this batch holds them), locked on PostgreSQL."""
    batch.cur.execute(batch.st.children_of, (iid,))
    found = []
    for cid, finished in batch.cur.fetchall():
        if finished:
            continue
        held = batch.reload(int(cid), lock=True)
        if held is not None and not held.finished:
            found.append(held.id)
    return found


def _cancel(
    batch: BatchLike, items: Sequence[tuple[int, str]], parent: int, actor: str | None
) -> None:
    """Cancel children (and theirs): finished where they stand, timers gone, a history row.

    ``items`` are (child id, the call state its parent left).
    """
    for cid, left in items:
        child = batch.reload(cid, lock=True)
        if child is None or child.finished:
            continue
        if child.memo.calling:
            inner = [(g, child.state) for g in open_children(batch, child.id)]
            _cancel(batch, inner, child.id, actor)
        reason = f"parent {parent} left state {left!r}"
        batch.history.append(
            (batch.history_id(), child.id, CANCEL, child.state, child.state, actor, batch.at,
             repo.dumps({"reason": reason}), None)
        )  # fmt: skip
        child.pending_timers.clear()
        if child.timers_in_db:
            batch.drop_timers.append((child.id,))
            child.timers_in_db = False
        child.finished = child.final = True
        child.rev, child.dirty = child.rev + 1, True


def after_apply(
    batch: BatchLike, inst: HeldInstance, cancel: Sequence[tuple[int, str]], actor: str | None
) -> Moved:
    """After an event is applied: cancel the children it left, tell its parent it moved."""
    if cancel:
        _cancel(batch, cancel, inst.id, actor)
    if inst.parent_id is not None:
        return child_moved(batch, inst, actor)
    return [], False
