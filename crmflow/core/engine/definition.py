"""A validated workflow version, ready to compile and run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .expressions import Expression, Template

__all__ = [
    "ActionSpec",
    "ApprovalDef",
    "ParallelDef",
    "RegionDef",
    "CallDef",
    "StartRule",
    "StateDef",
    "TimerDef",
    "TransitionDef",
    "WorkflowDef",
]


@dataclass(frozen=True)
class ActionSpec:
    """One `action:` step with its compiled `with:` parameters."""

    action: str
    params: Any
    save_as: str | None = None


@dataclass(frozen=True)
class ApprovalDef:
    """An `approval:` block: who votes, how many approvals, where the votes lead."""

    approvers: tuple[str, ...]
    required: int | str | Expression  # a number, "all", or an expression
    on_approved: str
    on_rejected: str | None = None
    four_eyes: bool = True


@dataclass(frozen=True)
class RegionDef:
    """One region of a `parallel:` state: its states by short name, where it starts."""

    name: str
    initial: str
    states: tuple[str, ...]
    finals: frozenset[str]


@dataclass(frozen=True)
class ParallelDef:
    """A `parallel:` block: regions run at once; ``need`` of them done enters ``on_done``."""

    regions: tuple[RegionDef, ...]
    need: int  # regions that must be done (join: all = every region, any = 1, or N)
    on_done: str
    join: str | int = "all"


@dataclass(frozen=True)
class CallDef:
    """A `call:` state: the workflow its children run, one per `for_each` item, and `on_done`."""

    workflow: str
    on_done: str
    for_each: Template | None = None
    data: Any = None  # compiled like `with:` (templates see `item`)


@dataclass(frozen=True)
class StateDef:
    name: str
    owner: str | None = None
    deadline: timedelta | None = None
    on_timeout: str | None = None
    calendar: str | None = None
    on_enter: tuple[ActionSpec, ...] = ()
    on_exit: tuple[ActionSpec, ...] = ()
    final: bool = False
    title: str | None = None
    approval: ApprovalDef | None = None
    parallel: ParallelDef | None = None
    #: a region state (``checks.capacity.pending``): (parallel state, region, short name)
    region: tuple[str, str, str] | None = None
    call: CallDef | None = None


@dataclass(frozen=True)
class TransitionDef:
    index: int
    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    when: Expression | None = None
    roles: tuple[str, ...] | None = None
    do: tuple[ActionSpec, ...] = ()
    #: no `trigger:` in the file: taken on entering (or new data in) its `from` state
    auto: bool = False


@dataclass(frozen=True)
class TimerDef:
    index: int
    trigger: str
    states: tuple[str, ...]
    cron: str | None = None
    after: timedelta | None = None
    calendar: str | None = None
    #: `after` counted from `start` or the first entry into a state, across states
    since: str | None = None
    #: repeats every period while the instance stays in `states`, at most `max` times
    every: timedelta | None = None
    max: int | None = None

    @property
    def name(self) -> str:
        if self.since:
            return f"since:{self.index}"
        if self.every:
            return f"every:{self.index}"
        return f"{'cron' if self.cron else 'after'}:{self.index}"


@dataclass(frozen=True)
class StartRule:
    event: str
    when: Expression | None = None
    unique: Template | None = None


@dataclass
class WorkflowDef:
    """Everything the engine needs to run one workflow version."""

    id: str
    version: int
    initial: str
    states: dict[str, StateDef]
    transitions: list[TransitionDef]
    timers: list[TimerDef] = field(default_factory=list)
    start_on: list[StartRule] = field(default_factory=list)
    correlate: dict[str, Template] = field(default_factory=dict)
    title: str | None = None
    entity: str | None = None
    source: str = ""
    file: str | None = None
    digest: str = ""

    def triggers_in(self, state: str) -> list[str]:
        seen: dict[str, None] = {}
        sdef = self.states.get(state)
        if sdef is not None and sdef.approval is not None:
            seen["approve"] = None
            if sdef.approval.on_rejected:
                seen["reject"] = None
        for t in self.transitions:
            if state in t.sources and not t.auto:
                seen.setdefault(t.trigger, None)
        return list(seen)

    def accepts(self, trigger: str) -> bool:
        if trigger in ("approve", "reject") and any(
            s.approval is not None for s in self.states.values()
        ):
            return True
        return any(t.trigger == trigger and not t.auto for t in self.transitions)

    def autos_from(self, state: str) -> tuple[TransitionDef, ...]:
        """The automatic transitions out of ``state``, in file order."""
        return tuple(t for t in self.transitions if t.auto and state in t.sources)

    def timers_for(self, state: str) -> list[TimerDef]:
        return [t for t in self.timers if state in t.states]
