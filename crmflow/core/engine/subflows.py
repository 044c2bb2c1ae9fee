"""Sub-workflows: a `call:` state starts its children, follows their moves, cancels them.

The write step calls in here after it applied an event to an instance: a parent
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
from .routing import Memo, Step, plan_of
from .sqlstatements import Statements

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike

__all__ = [
    "CANCEL", "DONE", "BatchLike", "after_apply", "call_entered", "child_moved",
    "enter_call", "prepare", "render_children", "start_initial",
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

    def apply(
        self, inst: HeldInstance, snap: Snapshot, decision: Decision, trigger: str,
        payload: dict[str, Any], key: str | None, actor: str | None,
    ) -> tuple[FireResult, list[TransitionRecord], bool]: ...  # fmt: skip


def call_entered(memo: Memo, steps: Sequence[Step]) -> CallDef | None:
    """The `call:` of the state the steps end in, if one of them entered it anew."""
    last = steps[-1].target
    call = memo.definition.states[last].call
    if call is None or not any(s.changed and s.target == last for s in steps):
        return None
    return call


def _left_call(memo: Memo, steps: Sequence[Step]) -> bool:
    states = memo.definition.states
    return any(s.changed and states[s.source].call is not None for s in steps)


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


def prepare(
    engine: EngineLike, inst: HeldInstance, steps: Sequence[Step], data: dict[str, Any],
    actor: str | None, now: datetime,
) -> tuple[list[dict[str, Any]] | None, str | None]:  # fmt: skip
    """(children to start, None) if the steps entered a `call:` state, or (None, refusal)."""
    call = call_entered(inst.memo, steps)
    if call is None:
        return None, None
    try:
        state = steps[-1].target
        return render_children(engine, call, data, state, actor, inst.started_by, now), None
    except (RefusedError, ExpressionError) as exc:  # for_each or data unusable: refused
        return None, str(exc) if str(exc).startswith("call:") else f"call: {exc}"


def start_initial(batch: BatchLike, inst: HeldInstance, actor: str | None) -> Moved:
    """An instance that starts in a `call:` state starts its children (start's transaction)."""
    call = inst.memo.definition.states[inst.state].call
    assert call is not None
    children = render_children(
        batch.engine, call, inst.data, inst.state, actor, inst.started_by, batch.now
    )
    return enter_call(batch, inst, call, children, actor)


def enter_call(
    batch: BatchLike, inst: HeldInstance, call: CallDef, children: list[dict[str, Any]],
    actor: str | None,
) -> Moved:  # fmt: skip
    """Start the children (parent set), list them in the parent's data; all done: on_done."""
    engine = batch.engine
    batch.flush()  # the children's rows follow the batch's own in the same transaction
    entries: list[dict[str, Any]] = []
    records: list[TransitionRecord] = []
    queued = False
    open_children = 0
    for child_data in children:
        # A child runs on behalf of the case's initiator: its `started_by` is the
        # parent's, so four eyes in the child keeps the person who proposed it out.
        cid, started, q = engine.start_child(batch.conn, call.workflow, child_data,
                                             inst.started_by, batch.now)  # fmt: skip
        records.extend(started)
        queued = queued or q
        batch.cur.execute(batch.st.set_parent, (inst.id, cid))
        batch.cur.execute(batch.st.select_instance, (cid,))
        row = batch.cur.fetchone()
        entries.append({"id": cid, "workflow": call.workflow, "state": row[3]})
        open_children += not row[6]
    batch.restart_ids()  # the children's history rows took ids this batch had not seen
    data = copy.deepcopy(inst.data)
    data["children"] = entries
    inst.set_data(data)
    inst.rev, inst.dirty = inst.rev + 1, True
    if open_children:
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
    batch.cur.execute(batch.st.children_of, (parent.id,))
    for cid, finished in batch.cur.fetchall():
        if int(cid) not in listed:
            continue
        held = batch.reload(int(cid)) if not finished else None
        if held is not None and not held.finished:
            return [], False
    return _done(batch, parent, call, actor)


def _cancel_children(batch: BatchLike, inst: HeldInstance, actor: str | None) -> None:
    """Cancel the open children (and theirs): finished where they stand, timers gone."""
    batch.cur.execute(batch.st.children_of, (inst.id,))
    for cid, finished in batch.cur.fetchall():
        if finished:
            continue
        child = batch.reload(int(cid), lock=True)
        if child is None or child.finished:
            continue
        if child.memo.calling:
            _cancel_children(batch, child, actor)
        reason = f"parent {inst.id} left state {inst.state!r}"
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
    batch: BatchLike, inst: HeldInstance, steps: Sequence[Step],
    children: list[dict[str, Any]] | None, actor: str | None,
) -> Moved:  # fmt: skip
    """What an applied event does to calls: cancel, start children, tell the parent."""
    records: list[TransitionRecord] = []
    queued = False
    memo = inst.memo
    if memo.calling:
        if _left_call(memo, steps):
            _cancel_children(batch, inst, actor)
        call = call_entered(memo, steps)
        if call is not None and children is not None:
            records, queued = enter_call(batch, inst, call, children, actor)
    if inst.parent_id is not None:
        more, q = child_moved(batch, inst, actor)
        records, queued = records + more, queued or q
    return records, queued
