"""What a transition does, memoised per workflow version: its plan, candidates, timers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .definition import ActionSpec, TransitionDef, WorkflowDef
from .machine import CompiledWorkflow
from .regions import initial_states
from .timing import has_timers

__all__ = [
    "Memo", "Plan", "Step", "autos", "candidates", "memo_of", "plan_of", "quiet", "runs_inline",
    "timed",
]  # fmt: skip

#: (phase, state, action) in the DSL's order: on_exit, do, on_enter
Plan = tuple[tuple[str, str, ActionSpec], ...]


@dataclass(frozen=True)
class Step:
    """One move of an instance: a taken transition (or vote) and the actions it runs."""

    trigger: str
    source: str
    target: str  # == source for an internal transition
    changed: bool  # the target is entered anew (timers re-armed, on_enter ran)
    actions: Plan = ()


@dataclass
class Memo:
    """Per compiled version: what never depends on an instance's data."""

    compiled: CompiledWorkflow
    candidates: dict[tuple[str, str], tuple[TransitionDef, ...]] = field(default_factory=dict)
    steps: dict[tuple[str, int, str, str | None], Step] = field(default_factory=dict)
    timed: dict[str, bool] = field(default_factory=dict)
    inline: dict[tuple[str, ...], bool] = field(default_factory=dict)
    routes: dict[tuple[str, str, frozenset[str]], Step | None] = field(default_factory=dict)
    autos: dict[str, tuple[TransitionDef, ...]] = field(default_factory=dict)
    #: a state of this version calls a sub-workflow (the write step then looks after children)
    calling: bool = False
    #: state -> entering it needs nothing more (no automatic move, timer or region): :func:`quiet`
    quiets: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.calling = any(s.call is not None for s in self.compiled.definition.states.values())

    @property
    def definition(self) -> WorkflowDef:
        return self.compiled.definition


_MEMOS: dict[int, Memo] = {}


def memo_of(compiled: CompiledWorkflow) -> Memo:
    memo = _MEMOS.get(id(compiled))
    if memo is None or memo.compiled is not compiled:
        memo = _MEMOS[id(compiled)] = Memo(compiled)
    return memo


def candidates(memo: Memo, state: str, trigger: str) -> tuple[TransitionDef, ...]:
    """The transitions that accept ``trigger`` in ``state``, in file order."""
    found = memo.candidates.get((state, trigger))
    if found is None:
        found = tuple(
            t
            for t in memo.definition.transitions
            if t.trigger == trigger and state in t.sources and not t.auto
        )
        memo.candidates[(state, trigger)] = found
    return found


def autos(memo: Memo, state: str) -> tuple[TransitionDef, ...]:
    found = memo.autos.get(state)
    if found is None:
        found = memo.autos[state] = memo.definition.autos_from(state)
    return found


def plan_of(
    memo: Memo, trigger: str, source: str, dest: str | None, do: tuple[ActionSpec, ...] = (),
    index: int = -1,
) -> Step:  # fmt: skip
    """The step of moving from ``source`` to ``dest`` (None: internal), with its actions.

    The order is the DSL's: ``on_exit`` of the old state, ``do``, ``on_enter``
    of the new one; an internal transition runs ``do`` only.
    """
    key = (source, index, trigger, dest)
    found = memo.steps.get(key)
    if found is not None:
        return found
    states = memo.definition.states
    if dest is None:
        actions: Plan = tuple(("do", source, spec) for spec in do)
        step = Step(trigger, source, source, False, actions)
    else:
        actions = (
            *(("on_exit", source, spec) for spec in states[source].on_exit),
            *(("do", source, spec) for spec in do),
            *(("on_enter", dest, spec) for spec in states[dest].on_enter),
            # a parallel state: each region enters its initial state
            *(("on_enter", s, spec) for s in initial_states(memo.definition, dest)
              for spec in states[s].on_enter),
        )  # fmt: skip
        step = Step(trigger, source, dest, True, actions)
    memo.steps[key] = step
    return step


def timed(memo: Memo, state: str) -> bool:
    """Whether entering ``state`` arms timer rows (so leaving it must cancel them)."""
    found = memo.timed.get(state)
    if found is None:
        found = memo.timed[state] = has_timers(memo.definition, state)
    return found


def quiet(memo: Memo, state: str) -> bool:
    """Whether entering ``state`` needs nothing more: no automatic move, timer or region."""
    found = memo.quiets.get(state)
    if found is None:
        parallel = memo.definition.states[state].parallel
        found = not autos(memo, state) and not timed(memo, state) and parallel is None
        memo.quiets[state] = found
    return found


def runs_inline(memo: Memo, actions: Any, plan: Plan) -> bool:
    """Whether a plan has an action that runs inside the transaction (not from the outbox)."""
    names = tuple(spec.action for _, _, spec in plan)
    found = memo.inline.get(names)
    if found is None:
        found = any(not actions[name].option("outbox", False) for name in names)
        memo.inline[names] = found
    return found
