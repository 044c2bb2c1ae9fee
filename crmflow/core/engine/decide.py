"""The decide step: (definition, instance snapshot, event, actor) -> a step or a refusal.

Nothing here reads or writes the database: the write step (hotpath for one
event, groupcommit for a batch) loads the snapshot, calls :func:`decide`,
applies the step's actions and asks :func:`next_auto` for automatic moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmflow.errors import ExpressionError

from .approval import Delegation, Vote, cast_vote, required_votes
from .expressions import MissingField
from .regions import joined, region_exits, triggers_with_regions
from .routing import Memo, Step, autos, candidates, plan_of

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike

__all__ = [
    "MAX_AUTO", "SYSTEM", "Decision", "Refusal", "Snapshot", "context_for", "decide",
    "join_step", "loop_refusal", "next_auto", "role_allows", "routed",
]  # fmt: skip

SYSTEM = "system"
#: automatic transitions one fire may take before it is refused as a loop
MAX_AUTO = 20


@dataclass(frozen=True)
class Refusal:
    """Why nothing moved: ``code`` is the kind (trigger, role, guard, approval, auto, …)."""

    code: str
    message: str


@dataclass
class Snapshot:
    """An instance as the decide step sees it; ``data`` is parsed only when read."""

    iid: int
    state: str
    started_by: str | None
    load: Callable[[], dict[str, Any]]
    votes: list[Vote] = field(default_factory=list)
    delegations: list[Delegation] = field(default_factory=list)
    _data: dict[str, Any] | None = None
    #: the regions of a parallel state (short names), None outside one
    regions: dict[str, str] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self.load()
        return self._data


@dataclass
class Decision:
    """The step to take, or the refusal; ``vote`` is the vote the step records.

    ``more``: further region moves the same trigger makes (a trigger that
    several regions of a parallel state accept moves each of them).
    """

    step: Step | None = None
    refusal: Refusal | None = None
    vote: Vote | None = None
    more: tuple[Step, ...] = ()


def role_allows(allowed: tuple[str, ...] | None, roles: frozenset[str]) -> bool:
    return allowed is None or SYSTEM in roles or not roles.isdisjoint(allowed)


def context_for(
    engine: EngineLike, snap: Snapshot, data: dict[str, Any], payload: dict[str, Any],
    state: str, actor: str | None, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    return engine.expression_context(
        data, payload, state, now, actor=actor, started_by=snap.started_by
    )


def decide(
    engine: EngineLike, memo: Memo, snap: Snapshot, trigger: str, payload: dict[str, Any],
    actor: str | None, roles: frozenset[str], now: datetime, scope: str | None = None,
) -> Decision:  # fmt: skip
    """The first transition (file order) whose roles and guard allow it, or why none did.

    In a parallel state, ``scope`` (a timer's state) limits the regions asked.
    """
    if snap.regions is not None:
        return _decide_regions(engine, memo, snap, trigger, payload, actor, roles, now, scope)
    return _decide_in(engine, memo, snap, snap.state, trigger, payload, actor, roles, now)


def routed(memo: Memo, state: str, trigger: str, roles: frozenset[str]) -> Step | None:
    """The step :func:`decide` takes whatever the data, if known already, else None.

    Known once the first candidate the roles allow had no guard (outside an
    approval's votes and a parallel state's regions).
    """
    sdef = memo.definition.states[state]
    if sdef.approval is not None and trigger in ("approve", "reject"):
        return None
    return memo.routes.get((state, trigger, roles))


def _decide_in(
    engine: EngineLike, memo: Memo, snap: Snapshot, state: str, trigger: str,
    payload: dict[str, Any], actor: str | None, roles: frozenset[str], now: datetime,
) -> Decision:  # fmt: skip
    sdef = memo.definition.states[state]
    if sdef.approval is not None and trigger in ("approve", "reject"):
        return _vote(engine, memo, snap, trigger, payload, actor, now)
    route_key = (state, trigger, roles)
    known = memo.routes.get(route_key)
    if known is not None:
        return Decision(known)
    found = candidates(memo, state, trigger)
    if not found:
        accepted = memo.definition.triggers_in(state)
        return Decision(refusal=Refusal(
            "trigger",
            f"trigger: {trigger!r} is not accepted in state {state!r} "
            f"(accepted: {', '.join(accepted) or 'none'})",
        ))  # fmt: skip
    refusals: list[Refusal] = []
    context: dict[str, Any] | None = None
    guarded = False
    for tdef in found:
        if not role_allows(tdef.roles, roles):
            who = f"role {', '.join(sorted(roles))!r}" if roles else "an actor with no role"
            refusals.append(Refusal(
                "role",
                f"role: {who} may not fire {trigger!r} from {state!r} "
                f"(allowed: {', '.join(tdef.roles or ())})",
            ))  # fmt: skip
            continue
        if tdef.when is not None:
            guarded = True
            if context is None:
                context = context_for(engine, snap, snap.data, payload, state, actor, now)
            try:
                ok = bool(tdef.when(context))
            except MissingField as missing:
                refusals.append(Refusal(
                    "guard",
                    f"guard: {tdef.when.source!r} is false because field "
                    f"{missing.field!r} is missing",
                ))  # fmt: skip
                continue
            except ExpressionError as exc:  # e.g. a guard beyond its time or size bound
                refusals.append(Refusal("guard", f"guard: {exc}"))
                continue
            if not ok:
                refusals.append(Refusal("guard", f"guard: {tdef.when.source!r} is false"))
                continue
        step = plan_of(memo, trigger, state, tdef.dest, tdef.do, tdef.index)
        if not guarded:
            # The first candidate the roles allow has no guard: the outcome depends on
            # (state, trigger, roles) alone, whatever the data.
            memo.routes[route_key] = step
        return Decision(step)
    refusal = next((r for r in refusals if r.code == "guard"), refusals[0])
    return Decision(refusal=refusal)


def _decide_regions(
    engine: EngineLike, memo: Memo, snap: Snapshot, trigger: str, payload: dict[str, Any],
    actor: str | None, roles: frozenset[str], now: datetime, scope: str | None,
) -> Decision:  # fmt: skip
    """A parallel state: its own transitions leave every region; else each region asked.

    A transition from the parallel state itself (``from: checks``) is taken
    first; otherwise every open region whose state accepts the trigger moves
    (one step each). A region move out of the parallel state leaves all regions.
    """
    definition, state, regions = memo.definition, snap.state, snap.regions or {}
    parallel = definition.states[state].parallel
    assert parallel is not None
    refusals: list[Refusal] = []
    own = _decide_in(engine, memo, snap, state, trigger, payload, actor, roles, now)
    if own.step is not None:
        return Decision(_leaving(memo, own.step, state, regions))
    assert own.refusal is not None
    if own.refusal.code != "trigger":
        refusals.append(own.refusal)
    moves: list[Step] = []
    for region in parallel.regions:
        short = regions.get(region.name)
        name = f"{state}.{region.name}.{short}"
        if short is None or short in region.finals or (scope not in (None, state, name)):
            continue
        found = _decide_in(engine, memo, snap, name, trigger, payload, actor, roles, now)
        if found.step is None:
            assert found.refusal is not None
            if found.refusal.code != "trigger":
                refusals.append(found.refusal)
            continue
        step = found.step
        if not step.target.startswith(f"{state}.{region.name}."):  # out of the parallel state
            return Decision(_leaving(memo, step, state, regions))
        moves.append(step)
    if moves:
        return Decision(moves[0], more=tuple(moves[1:]))
    if refusals:
        return Decision(refusal=next((r for r in refusals if r.code == "guard"), refusals[0]))
    accepted = triggers_with_regions(definition, state, regions)
    return Decision(refusal=Refusal(
        "trigger",
        f"trigger: {trigger!r} is not accepted in state {state!r} with regions "
        f"{', '.join(f'{r}={s}' for r, s in regions.items())} "
        f"(accepted: {', '.join(accepted) or 'none'})",
    ))  # fmt: skip


def _leaving(memo: Memo, step: Step, state: str, regions: dict[str, str]) -> Step:
    """``step`` as a move out of parallel ``state``: the regions' on_exit run first."""
    if step.target == state and not step.changed:
        return step  # internal: the regions stay
    exits = region_exits(memo.definition, state, regions)
    actions = step.actions
    if step.source != state:  # taken in a region: its own on_exit is among the exits
        actions = tuple(a for a in actions if not (a[0] == "on_exit" and a[1] == step.source))
        own = memo.definition.states[state].on_exit
        actions = tuple(("on_exit", state, spec) for spec in own) + actions
    return Step(step.trigger, state, step.target, True, exits + actions)


def _vote(
    engine: EngineLike, memo: Memo, snap: Snapshot, decision: str, payload: dict[str, Any],
    actor: str | None, now: datetime,
) -> Decision:  # fmt: skip
    state = snap.state
    approval = memo.definition.states[state].approval
    assert approval is not None
    if decision == "reject" and not approval.on_rejected:
        return Decision(refusal=Refusal(
            "trigger", f"trigger: 'reject' is not accepted in state {state!r} (no on_rejected)"
        ))  # fmt: skip
    context = context_for(engine, snap, snap.data, payload, state, actor, now)
    try:
        required = required_votes(approval, context, engine.is_person)
    except ExpressionError as exc:  # a missing field, not a number: refused like a guard
        return Decision(refusal=Refusal("approval", f"approval: {exc}"))
    comment = payload.get("comment") if isinstance(payload, dict) else None
    ballot = cast_vote(
        approval, state, "approve" if decision == "approve" else "reject", actor,
        roles_of=engine.roles_of, votes=snap.votes, delegations=snap.delegations,
        started_by=snap.started_by, required=required, now=now,
        today=now.astimezone(engine.factory.timezone).date(),
        comment=None if comment is None else str(comment),
        everyone=[a for a in approval.approvers if engine.is_person(a)]
        if approval.required == "all" else (),
    )  # fmt: skip
    if ballot.vote is None:
        reason = ballot.refusal or "approval: refused"
        if "is not an approver" in reason:  # who may vote is a role question (HTTP 403)
            return Decision(refusal=Refusal("role", "role: " + reason.removeprefix("approval: ")))
        return Decision(refusal=Refusal("approval", reason))
    step = plan_of(memo, decision, state, ballot.decided, (), -2)
    return Decision(step, vote=ballot.vote)


def next_auto(
    engine: EngineLike, memo: Memo, snap: Snapshot, state: str, data: dict[str, Any],
    payload: dict[str, Any], actor: str | None, now: datetime,
) -> Step | None:  # fmt: skip
    """The automatic transition out of ``state`` that the data allows now, if any."""
    found = autos(memo, state)
    if not found:
        return None
    context = context_for(engine, snap, data, payload, state, actor, now)
    for tdef in found:
        if tdef.when is not None:
            try:
                if not tdef.when(context):
                    continue
            except (MissingField, ExpressionError):  # a runaway guard is simply false
                continue
        return plan_of(memo, "auto", state, tdef.dest, tdef.do, tdef.index)
    return None


def join_step(memo: Memo, state: str, regions: dict[str, str] | None) -> Step | None:
    """The move out of a parallel state whose join is met (history trigger ``join``).

    The regions still open are left: their states' ``on_exit`` run first.
    """
    if regions is None:
        return None
    parallel = memo.definition.states[state].parallel
    if parallel is None or not joined(memo.definition, state, regions):
        return None
    step = plan_of(memo, "join", state, parallel.on_done)
    exits = region_exits(memo.definition, state, regions)
    return Step(step.trigger, state, step.target, True, exits + step.actions) if exits else step


def loop_refusal(path: list[str]) -> Refusal:
    """The refusal of a chain of automatic transitions longer than :data:`MAX_AUTO`."""
    seen: list[str] = []
    for name in path:
        if seen and name == seen[-1]:
            continue  # an internal step (the fire that set the loop off) stays put
        if name in seen:
            loop = seen[seen.index(name) :] + [name]
            break
        seen.append(name)
    else:
        loop = path
    return Refusal(
        "auto",
        f"auto: automatic transitions ran more than {MAX_AUTO} steps "
        f"(loop: {' -> '.join(loop)}); nothing was changed",
    )
