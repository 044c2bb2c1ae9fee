"""Which transition an event takes: the `transitions` machine, memoised per workflow version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .definition import ActionSpec, TransitionDef
from .machine import CompiledWorkflow, _role_allows
from .timing import has_timers

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Engine

__all__ = [
    "Plan",
    "_Memo",
    "_candidates",
    "_inline",
    "_memo",
    "_route",
    "_timed",
]

Plan = tuple[tuple[str, str, ActionSpec], ...]


@dataclass
class _Memo:
    compiled: CompiledWorkflow
    candidates: dict[tuple[str, str], tuple[TransitionDef, ...]] = field(default_factory=dict)
    plans: dict[tuple[str, int], tuple[str, Plan]] = field(default_factory=dict)
    timed: dict[str, bool] = field(default_factory=dict)
    inline: dict[tuple[str, ...], bool] = field(default_factory=dict)
    routes: dict[tuple[str, str, frozenset[str]], tuple[TransitionDef, str, Plan] | None] = field(
        default_factory=dict
    )


_MEMOS: dict[int, _Memo] = {}


def _memo(compiled: CompiledWorkflow) -> _Memo:
    memo = _MEMOS.get(id(compiled))
    if memo is None or memo.compiled is not compiled:
        memo = _MEMOS[id(compiled)] = _Memo(compiled)
    return memo


def _route(
    memo: _Memo, state: str, trigger: str, roles: frozenset[str]
) -> tuple[TransitionDef, str, Plan] | None:
    """The transition, target and plan ``resolve`` takes when no guard is involved.

    When the first candidate (file order) the roles allow has no guard, the
    machine takes it whatever the data: the outcome is a function of (state,
    trigger, roles), memoised once ``resolve`` has produced its plan. None
    means "ask ``resolve``" (a guard decides, or the plan is not known yet).
    """
    route_key = (state, trigger, roles)
    try:
        return memo.routes[route_key]
    except KeyError:
        pass
    first = None
    for tdef in _candidates(memo, state, trigger):
        if _role_allows(tdef.roles, roles):
            first = tdef
            break
    if first is None or first.when is not None:
        memo.routes[route_key] = None
        return None
    known = memo.plans.get((state, first.index))
    if known is None:
        return None
    found = memo.routes[route_key] = (first, known[0], known[1])
    return found


def _candidates(memo: _Memo, state: str, trigger: str) -> tuple[TransitionDef, ...]:
    """The transitions the machine would try for ``trigger`` in ``state``, in file order."""
    found = memo.candidates.get((state, trigger))
    if found is None:
        found = tuple(
            t
            for t in memo.compiled.definition.transitions
            if t.trigger == trigger and state in t.sources
        )
        memo.candidates[(state, trigger)] = found
    return found


def _timed(compiled: CompiledWorkflow, state: str, memo: _Memo | None = None) -> bool:
    if memo is None:
        memo = _memo(compiled)
    found = memo.timed.get(state)
    if found is None:
        found = memo.timed[state] = has_timers(compiled.definition, state)
    return found


def _inline(engine: Engine, compiled: CompiledWorkflow, plan: Plan) -> bool:
    """Whether a plan has an action that runs inside the transaction (not from the outbox)."""
    memo = _memo(compiled)
    names = tuple(spec.action for _, _, spec in plan)
    found = memo.inline.get(names)
    if found is None:
        found = any(not engine.registry.actions[name].option("outbox", False) for name in names)
        memo.inline[names] = found
    return found
