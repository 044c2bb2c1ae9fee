"""Compile a workflow version into one shared `transitions` machine."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from transitions import Machine, Transition
from transitions.core import EventData

from crmflow.errors import ExpressionError

from .definition import ActionSpec, TransitionDef, WorkflowDef
from .expressions import MissingField

__all__ = ["CompiledWorkflow", "Refusal", "Run", "compile_workflow"]

logging.getLogger("transitions").setLevel(logging.WARNING)

SYSTEM = "system"


@dataclass
class Refusal:
    """Why a transition was not eligible."""

    code: str
    message: str


@dataclass
class Run:
    """The model `transitions` moves: one fired trigger on one instance.

    It lives for one event only; the database row is the truth between events.
    """

    state: str
    roles: frozenset[str]
    context: dict[str, Any]
    plan: list[tuple[str, str, ActionSpec]] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    taken: TransitionDef | None = None


class _Transition(Transition):
    """A transition whose `do` runs between `on_exit` and the state change (DSL order)."""

    def __init__(self, *args: Any, do: Callable[[EventData], None] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.do = do

    def _change_state(self, event_data: EventData) -> None:
        machine = event_data.machine
        machine.get_state(self.source).exit(event_data)
        if self.do is not None:
            self.do(event_data)
        dest = cast(str, self.dest)  # only internal transitions (not run here) have none
        machine.set_state(dest, event_data.model)
        event_data.update(getattr(event_data.model, machine.model_attribute))
        machine.get_state(dest).enter(event_data)


class _Machine(Machine):
    transition_cls = _Transition


def _role_allows(allowed: tuple[str, ...] | None, roles: frozenset[str]) -> bool:
    return allowed is None or SYSTEM in roles or not roles.isdisjoint(allowed)


def _plan(phase: str, specs: tuple[ActionSpec, ...]) -> Callable[[EventData], None]:
    def add(event_data: EventData) -> None:
        run = cast(Run, event_data.model)
        for spec in specs:
            run.plan.append((phase, run.state, spec))

    return add


def _condition(tdef: TransitionDef) -> Callable[[EventData], bool]:
    def allowed(event_data: EventData) -> bool:
        run = cast(Run, event_data.model)
        if not _role_allows(tdef.roles, run.roles):
            who = f"role {', '.join(sorted(run.roles))!r}" if run.roles else "an actor with no role"
            run.refusals.append(
                Refusal(
                    "role",
                    f"role: {who} may not fire {tdef.trigger!r} from {run.state!r} "
                    f"(allowed: {', '.join(tdef.roles or ())})",
                )
            )
            return False
        if tdef.when is not None:
            try:
                ok = bool(tdef.when(run.context))
            except MissingField as missing:
                run.refusals.append(
                    Refusal(
                        "guard",
                        f"guard: {tdef.when.source!r} is false because field "
                        f"{missing.field!r} is missing",
                    )
                )
                return False
            except ExpressionError as exc:  # e.g. a guard beyond its time or size bound
                run.refusals.append(Refusal("guard", f"guard: {exc}"))
                return False
            if not ok:
                run.refusals.append(Refusal("guard", f"guard: {tdef.when.source!r} is false"))
                return False
        run.taken = tdef
        return True

    return allowed


@dataclass
class CompiledWorkflow:
    """A workflow version and its machine, shared by every instance of it."""

    definition: WorkflowDef
    machine: Machine

    def fire(self, run: Run, trigger: str) -> bool:
        """Run the machine for ``trigger``; fills ``run.plan`` or ``run.refusals``."""
        event = self.machine.events.get(trigger)
        if event is None or run.state not in event.transitions:
            accepted = self.definition.triggers_in(run.state)
            run.refusals.append(
                Refusal(
                    "trigger",
                    f"trigger: {trigger!r} is not accepted in state {run.state!r} "
                    f"(accepted: {', '.join(accepted) or 'none'})",
                )
            )
            return False
        return bool(event.trigger(run))


def compile_workflow(definition: WorkflowDef) -> CompiledWorkflow:
    """Build the `transitions` machine of a workflow version (once per process)."""
    machine = _Machine(
        model=None,
        states=list(definition.states),
        initial=definition.initial,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=True,
        model_attribute="state",
    )
    for name, state in definition.states.items():
        if state.on_exit:
            machine.get_state(name).add_callback("exit", _plan("on_exit", state.on_exit))
        if state.on_enter:
            machine.get_state(name).add_callback("enter", _plan("on_enter", state.on_enter))
    for tdef in definition.transitions:
        for source in tdef.sources:
            if tdef.dest is None:
                # Internal: no exit, no enter, no re-armed timers; `do` runs as `before`.
                machine.add_transition(
                    tdef.trigger,
                    source,
                    None,
                    conditions=[_condition(tdef)],
                    before=[_plan("do", tdef.do)] if tdef.do else None,
                )
            else:
                machine.add_transition(
                    tdef.trigger,
                    source,
                    tdef.dest,
                    conditions=[_condition(tdef)],
                    do=_plan("do", tdef.do) if tdef.do else None,
                )
    return CompiledWorkflow(definition, machine)
