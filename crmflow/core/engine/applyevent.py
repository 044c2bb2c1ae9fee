"""One event applied to the batch: decided, its steps walked, its rows and timers held.

:meth:`Batch.fire` checks the key, asks :func:`decide`, and :meth:`Batch.apply`
walks the decided step and the automatic moves after it (region steps, joins,
children), then hands the event's rows to the batch; :class:`BatchStore`
writes them at flush.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.errors import NotFoundError

from . import repository as repo
from . import subflows
from .actionrun import outbox_row, render_params, run_inline
from .batchstore import BatchStore, Work
from .dbapi import NO_CONNECTION, Fallback
from .decide import (
    MAX_AUTO,
    Decision,
    Snapshot,
    decide,
    join_step,
    loop_refusal,
    next_auto,
    routed,
)
from .eventrows import deep_merge
from .heldrow import HeldInstance, aware, delegations_of, since_bases, votes_of
from .regions import Walk, active_states
from .results import FireResult, TransitionRecord
from .routing import Step, autos, quiet, runs_inline, timed
from .sqlstatements import Statements, db_time
from .timing import timer_rows

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["Batch"]


class Batch(BatchStore):
    """Events applied in memory, written with one statement per table at :meth:`flush`."""

    def __init__(
        self, engine: Engine, conn: sa.Connection, st: Statements, cur: Any, now: datetime
    ) -> None:
        super().__init__(engine, conn, st, cur, now)
        self.roles: dict[str | None, frozenset[str]] = {}
        # Records are for on_transition listeners only: none, none built.
        self.listened = engine.hooks.listeners().any
        self.due: datetime | None = None
        #: the state of the timer firing the next event (a region's deadline moves its region)
        self.scope: str | None = None

    def set_time(self, due: datetime | None) -> None:
        """Where the timers the next event arms count from (a timer's due time), not now.

        A timeout that fires late still arms the next deadline from the moment
        it was due, so a chain of overdue deadlines fires in one tick; actions
        and history keep the real time.
        """
        self.due = due

    def _snapshot(self, inst: HeldInstance, trigger: str, actor: str | None) -> Snapshot:
        snap = Snapshot(inst.id, inst.state, inst.started_by, lambda: inst.data)
        snap.regions = inst.regions
        sdef = inst.memo.definition.states[inst.state]
        if sdef.approval is not None and trigger in ("approve", "reject"):
            snap.votes = votes_of(self.cur, self.st, inst, self.votes, self.now)
            today = self.now.astimezone(self.engine.factory.timezone).date()
            snap.delegations = delegations_of(self.cur, self.st, actor, today)
        return snap

    # -- one event -----------------------------------------------------------

    def fire(
        self, iid: int, trigger: str, data: dict[str, Any] | None, key: str | None,
        actor: str | None,
    ) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
        """One event: a repeated key answers as before, else decide and :meth:`apply`."""
        self.need -= 1
        inst = self.reload(iid)
        if inst is None:
            raise NotFoundError(f"no instance {iid}; `crmflow list` shows the instances")
        if key is not None:
            earlier = self.keys.get((iid, key))
            if earlier is not None:
                if earlier[2] != trigger:
                    reason = f"key: key {key} was used for {earlier[2]}"
                    return FireResult(False, inst.state, reason, "key", iid), [], False
                where = inst.memo.definition.states.get(earlier[1])
                state = where.region[0] if where is not None and where.region else earlier[1]
                result = FireResult(
                    True, state, instance_id=iid, duplicate=True, history_id=earlier[0]
                )
                return result, [], False
        if inst.finished:
            reason = f"finished: instance {iid} is finished (state {inst.state!r}); nothing fires"
            return FireResult(False, inst.state, reason, "finished", iid), [], False
        roles = self.roles.get(actor)
        if roles is None:
            roles = self.roles[actor] = self.engine.roles_of(actor)
        payload = data or {}
        memo = inst.memo
        # The step is known without the data (no guard decides it): decide is not asked.
        known = None if inst.regions is not None else routed(memo, inst.state, trigger, roles)
        if known is not None:
            decision = Decision(known)
        else:
            snap = self._snapshot(inst, trigger, actor)
            decision = decide(
                self.engine, memo, snap, trigger, payload, actor, roles, self.now, self.scope
            )
        if decision.step is None:
            assert decision.refusal is not None
            refusal = decision.refusal
            return FireResult(False, inst.state, refusal.message, refusal.code, iid), [], False
        step = decision.step
        if (
            not payload and not step.actions and not decision.more and decision.vote is None
            and inst.regions is None and inst.parent_id is None and not memo.calling
            and not inst.timers_in_db and not inst.pending_timers and step.source == inst.state
            and quiet(memo, step.target)
        ):  # fmt: skip
            return self._plain(inst, step, trigger, key, actor)
        if known is not None:
            snap = self._snapshot(inst, trigger, actor)
        return self.apply(inst, snap, decision, trigger, payload, key, actor)

    def _plain(
        self, inst: HeldInstance, step: Step, trigger: str, key: str | None, actor: str | None
    ) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
        """:meth:`apply` for one step with nothing to run, arm, cancel or follow.

        No payload, action, vote, region, timer (armed or to arm), parent,
        child or automatic move: one history row and the instance's new state.
        """
        hid = self.history_id()
        self.history.append(
            (hid, inst.id, step.trigger, step.source, step.target, actor, self.at, "{}", key)
        )
        state = step.target if step.changed else inst.state
        if key is not None:
            self.keys[(inst.id, key)] = (hid, state, trigger)
        definition = inst.memo.compiled.definition
        final = definition.states[state].final
        if step.changed or final:
            inst.entered_at = self.at
        inst.state, inst.rev, inst.dirty = state, inst.rev + 1, True
        if final:
            inst.finished = inst.final = True
        records: list[TransitionRecord] = []
        if self.listened:
            records.append(TransitionRecord(
                inst.id, definition.id, definition.version, step.trigger, step.source,
                step.target, actor, self.now, {}, hid,
            ))  # fmt: skip
        return FireResult(True, state, instance_id=inst.id, history_id=hid), records, False

    def apply(
        self, inst: HeldInstance, snap: Snapshot, decision: Decision, trigger: str,
        payload: dict[str, Any], key: str | None, actor: str | None,
    ) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
        """Walk the decided step and the moves after it; the event's rows join the batch.

        A refusal on the way (a loop, a child that cannot start) rolls the
        event's savepoint back and leaves the batch as it was.
        """
        first = decision.step
        assert first is not None
        memo, engine, now = inst.memo, self.engine, self.now
        definition = memo.definition
        # Plain event, nothing to run: the stored text is written back as it was read,
        # not even parsed (no action renders the data, no automatic move reads it).
        plain = (
            not payload and not first.actions and not autos(memo, first.target)
            and inst.regions is None and not decision.more and not memo.calling
            and definition.states[first.target].parallel is None
        )  # fmt: skip
        data = {} if plain else deep_merge(copy.deepcopy(inst.data), payload)
        work = Work()
        steps: list[Step] = []
        pending: list[Step] = [first, *decision.more]
        walk = Walk(definition, inst.state, inst.regions)
        moves = 0
        nested = None
        if plain and decision.vote is None and first.source == inst.state:
            # One step, nothing to run, nothing after it: the loop below would take it
            # alone (no region, call, join or automatic move can follow).
            pending = []
            self._step(inst, snap, first, self.history_id(), data, payload, key, actor, work)
            steps.append(first)
            walk.take(first.source, first.target, first.changed)
        try:
            while pending:
                step = pending.pop(0)
                if not walk.current(step.source):
                    continue  # a region step whose region the join (or an exit) left
                calls = memo.calling and step.changed and definition.states[step.target].call
                if calls or (
                    step.actions and runs_inline(memo, engine.registry.actions, step.actions)
                ):
                    if self.conn is NO_CONNECTION:
                        raise Fallback()  # in-transaction actions, children: on a Connection
                    if nested is None:
                        self.flush()
                        nested = self.conn.begin_nested()
                hid = self.history_id()
                self._step(inst, snap, step, hid, data, payload, key if step is first else None,
                           actor, work)  # fmt: skip
                if step is first and decision.vote is not None:
                    v = decision.vote
                    work.votes.append(
                        (inst.id, hid, v.state, v.by, v.for_person, v.decision, self.at,
                         v.comment)
                    )  # fmt: skip
                steps.append(step)
                entered = walk.take(step.source, step.target, step.changed)
                done = None
                if memo.calling and step.changed:  # a call state left or entered
                    done, refused = subflows.moved(self, inst, step, data, actor, work)
                    if refused is not None:
                        if nested is not None:
                            nested.rollback()
                        return FireResult(False, inst.state, refused, "call", inst.id), [], False
                joining = join_step(memo, walk.state, walk.regions)
                if done is not None:
                    pending[0:0] = [done]  # every child had finished: on to on_done
                elif joining is not None:
                    # The trigger moves each region that accepts it, then the join leaves
                    # the regions still open (workflow-dsl: "moves each of them").
                    same = [s for s in pending if s in decision.more and walk.current(s.source)]
                    pending = same or [joining]
                else:
                    # the automatic move out of the new state, else out of the regions it opened
                    found = next_auto(engine, memo, snap, step.target, data, payload, actor, now)
                    follow = [found] if found is not None else [
                        a for target in entered
                        if (a := next_auto(engine, memo, snap, target, data, payload, actor,
                                           now)) is not None
                    ]  # fmt: skip
                    pending[0:0] = follow
                moves += 1
                if moves > MAX_AUTO + 1 + len(decision.more):
                    path = [steps[0].source, *(s.target for s in steps)]
                    refusal = loop_refusal(path)
                    if nested is not None:
                        nested.rollback()
                        nested = None
                    return (
                        FireResult(False, inst.state, refusal.message, refusal.code, inst.id),
                        [], False,
                    )  # fmt: skip
        except BaseException:
            if nested is not None:
                nested.rollback()
            raise
        if nested is not None:
            nested.commit()
        # Nothing can fail from here on: the event is applied to the batch.
        self.history.extend(work.history[work.written :])
        self.outbox.extend(work.outbox)
        self.votes.extend(work.votes)
        state = walk.state
        if key is not None:
            self.keys[(inst.id, key)] = (work.history[0][0], state, trigger)
        final = definition.states[state].final
        targets = [s.target for s in steps]
        if walk.top_changed or final:
            kept = self._every_kept(inst, inst.state, state) if not final else {}
            inst.pending_timers.clear()
            if inst.timers_in_db:
                self.drop_timers.append((inst.id,))
                inst.timers_in_db = False
            if not final and timed(memo, state):
                since = since_bases(self.cur, self.st, inst, state, targets, self.history,
                                    self.now)  # fmt: skip
                for r in timer_rows(engine, inst.id, definition, state, self.due or now, since):
                    name, due = r["name"], db_time(r["due"], self.st.sqlite)
                    carried = kept.get(name.rsplit(":", 1)[0]) if r["kind"] == "every" else None
                    if carried is not None:
                        name, due = carried  # still in its states: it keeps counting
                    inst.pending_timers.append(
                        (r["instance_id"], name, r["kind"], r["trigger"], r["state"], due)
                    )
            for region_state in active_states(state, walk.regions):
                self._arm_region(inst, region_state, targets)
            inst.entered_at = self.at
        elif walk.regions is not None:
            for step in steps:
                if step.changed and walk.region_step(step.source, step.target):
                    kept = self._every_kept(inst, step.source, step.target)
                    self._leave_region(inst, step.source)
                    self._arm_region(inst, step.target, targets, kept)
        if not plain:
            inst.set_data(data)
        inst.state, inst.rev, inst.dirty = state, inst.rev + 1, True
        inst.regions = walk.regions
        if final:
            inst.finished = inst.final = True
        queued = bool(work.outbox) or work.queued
        if work.cancel or inst.parent_id is not None:
            records, moved_queued = subflows.after_apply(self, inst, work.cancel, actor)
            work.records.extend(records)
            queued = queued or moved_queued
        result = FireResult(True, state, instance_id=inst.id, history_id=work.history[0][0])
        return result, work.records, queued

    def _leave_region(self, inst: HeldInstance, state: str) -> None:
        """A region left ``state``: that state's timer rows go, the other regions' stay."""
        if not timed(inst.memo, state):
            return
        inst.pending_timers = [t for t in inst.pending_timers if t[4] != state]
        self.drop_state_timers.append((inst.id, state))

    def _arm_region(
        self, inst: HeldInstance, state: str, targets: list[str],
        kept: dict[str, tuple[Any, Any]] | None = None,
    ) -> None:  # fmt: skip
        """Arm the deadline and timers of a region's (dotted) state, unless it is final.

        ``targets``: the states this event entered (a `since:` timer may count from one);
        ``kept``: the `every:` rows of the region's previous state that keep counting here.
        """
        definition = inst.memo.definition
        if definition.states[state].final or not timed(inst.memo, state):
            return
        since = since_bases(self.cur, self.st, inst, state, targets, self.history, self.now)
        for r in timer_rows(self.engine, inst.id, definition, state, self.due or self.now,
                            since):  # fmt: skip
            name, due = r["name"], db_time(r["due"], self.st.sqlite)
            carried = (kept or {}).get(name.rsplit(":", 1)[0]) if r["kind"] == "every" else None
            if carried is not None:
                name, due = carried  # still in its states: it keeps counting
            inst.pending_timers.append(
                (r["instance_id"], name, r["kind"], r["trigger"], r["state"], due)
            )
        inst.timers_in_db = True  # the rows are flushed with the batch; leaving drops them

    def _every_kept(self, inst: HeldInstance, old: str, new: str) -> dict[str, tuple[Any, Any]]:
        """`every:` timers of both states: their armed row (name with count, due) carries over.

        A move between two of an `every:` timer's states keeps counting its periods.
        """
        if not (inst.timers_in_db or inst.pending_timers):
            return {}  # nothing armed to carry (asked first: it costs no list)
        shared = [t for t in inst.memo.definition.timers_for(new) if t.every and old in t.states]
        if not shared:
            return {}
        rows = [(t[1], t[5]) for t in inst.pending_timers if t[2] == "every"]
        if inst.timers_in_db:
            self.cur.execute(self.st.every_timers, (inst.id,))
            rows += [(r[0], r[1]) for r in self.cur.fetchall()]
        names = {t.name for t in shared}
        return {name.rsplit(":", 1)[0]: (name, due) for name, due in rows
                if name.rsplit(":", 1)[0] in names}  # fmt: skip

    def _step(
        self, inst: HeldInstance, snap: Snapshot, step: Step, hid: int, data: dict[str, Any],
        payload: dict[str, Any], key: str | None, actor: str | None, work: Work,
    ) -> None:  # fmt: skip
        engine, now = self.engine, self.now
        definition = inst.memo.definition
        for index, (_phase, state, spec) in enumerate(step.actions):
            params = render_params(engine, spec, data, payload, state, now, actor, snap.started_by)
            if engine.registry.actions[spec.action].option("outbox", False):
                work.outbox.append(outbox_row(engine, inst.id, hid, index, spec, params, self.at))
            else:
                run_inline(engine, self.conn, inst.id, definition, hid, index, state, spec,
                           params, data, actor, now, started_by=inst.started_by,
                           started_at=aware(inst.created_at))  # fmt: skip
        work.history.append(
            (hid, inst.id, step.trigger, step.source, step.target, actor, self.at,
             repo.dumps(payload) if payload and not work.history else "{}", key)
        )  # fmt: skip
        if self.listened:
            work.records.append(TransitionRecord(
                inst.id, definition.id, definition.version, step.trigger, step.source,
                step.target, actor, now, payload, hid,
            ))  # fmt: skip
