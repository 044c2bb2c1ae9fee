"""The states: of a workflow file checked (owner, deadline, approval, call), and reachability."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .callcheck import call_def, on_done_without_block
from .definition import StateDef, TransitionDef
from .language import approval_def
from .parallelcheck import PARALLEL_KEYS
from .shapecheck import PLAIN_NAME, Checker, Path

__all__ = ["CALENDARS", "STATE_KEYS", "check_states", "check_timeouts", "reachability"]

STATE_KEYS = (
    "owner", "deadline", "on_timeout", "calendar", "on_enter", "on_exit", "final",
    "title", "description", "title_zh", "titles", "approval", *PARALLEL_KEYS, "call",
)  # fmt: skip
CALENDARS = ("working",)


def check_states(
    c: Checker, raw: dict[Any, Any], known: Collection[str] = (),
    base: Path = ("states",), prefix: str = "",
) -> dict[str, StateDef]:  # fmt: skip
    """The states of ``raw`` (a region's have ``base`` as path and ``prefix`` in their names)."""
    states: dict[str, StateDef] = {}
    if not raw and ("states",) in c.marks.keys and not prefix:
        c.error("states is empty; define at least the initial state", ("states",))
    for name, body in raw.items():
        path: Path = (*base, name)
        if not isinstance(name, str) or not PLAIN_NAME.match(name):
            c.error(f"state name {name!r} must be a plain name", path)
            continue
        body = c.mapping(body, path, f"state {name!r}")
        if body is None:
            continue
        c.unknown_keys(body, STATE_KEYS, path, "state")
        deadline = c.duration(body["deadline"], (*path, "deadline")) if "deadline" in body else None
        calendar = body.get("calendar")
        if calendar is not None and calendar not in CALENDARS:
            c.error(
                f"calendar must be one of {', '.join(CALENDARS)}", (*path, "calendar"), at="value"
            )
        final = body.get("final", False)
        if not isinstance(final, bool):
            c.error("final must be true or false", (*path, "final"), at="value")
        owner = body.get("owner")
        if owner is not None and not isinstance(owner, str):
            c.error("owner must be a role name", (*path, "owner"), at="value")
        on_timeout = body.get("on_timeout")
        if on_timeout is not None and not isinstance(on_timeout, str):
            c.error("on_timeout must name a trigger", (*path, "on_timeout"), at="value")
            on_timeout = None
        if final is True and (deadline or on_timeout):
            c.warning(f"final state {name!r} has a deadline that can never fire", path)
        approval = None
        if "approval" in body:
            approval = approval_def(c, body["approval"], (*path, "approval"), raw)
            if final is True:
                c.error(f"final state {name!r} cannot hold an approval", (*path, "approval"))
        call = call_def(c, body, path, raw, known) if "call" in body else None
        if "call" in body and final is True:
            c.error(f"final state {name!r} cannot call a workflow", (*path, "call"))
        on_done_without_block(c, body, path)
        states[prefix + name] = StateDef(
            name=prefix + name,
            owner=owner if isinstance(owner, str) else None,
            deadline=deadline,
            on_timeout=on_timeout,
            calendar=calendar if calendar in CALENDARS else None,
            on_enter=c.actions_list(body.get("on_enter"), (*path, "on_enter")),
            on_exit=c.actions_list(body.get("on_exit"), (*path, "on_exit")),
            final=final is True,
            title=body.get("title"),
            approval=approval,
            call=call,
        )
    return states


def check_timeouts(
    c: Checker, states: dict[str, StateDef], transitions: list[TransitionDef],
    names_raw: dict[Any, Any],
) -> None:  # fmt: skip
    """Each ``on_timeout`` names a trigger its state accepts, and comes with a deadline."""
    for name, state in states.items():
        if state.on_timeout is not None:
            # a region's deadline may fire a trigger of its parallel state (leaving it)
            owners = {name, state.region[0]} if state.region else {name}
            accepted = {t.trigger for t in transitions
                        if not owners.isdisjoint(t.sources) and not t.auto}  # fmt: skip
            # approve/reject of an approval state are votes, and a deadline fires as
            # `system`, which cannot vote: they are no timeout (as for timers)
            votes = state.approval is not None and state.on_timeout in ("approve", "reject")
            if state.on_timeout not in accepted:
                advice = (
                    "; a deadline fires as system, which cannot vote: time out with a "
                    "transition of its own, e.g. to the on_rejected state" if votes else ""
                )
                c.error(
                    f"on_timeout {state.on_timeout!r} is not a trigger that state {name!r} "
                    f"accepts (accepted: {', '.join(sorted(accepted)) or 'none'}){advice}",
                    (*c.state_path(name), "on_timeout"),
                    at="value",
                )
            if state.deadline is None and "deadline" not in (names_raw.get(name) or {}):
                c.error(f"state {name!r} has on_timeout but no deadline", c.state_path(name))


def reachability(
    c: Checker, initial: str, states: dict[str, StateDef], transitions: list[TransitionDef]
) -> None:
    """Every state is reachable from ``initial``; a state with no way out is warned about."""
    # Linear in states + transitions: a 20,000-state workflow validates in moments.
    targets: dict[str, set[str]] = {}
    for t in transitions:
        if t.dest:
            for source in t.sources:
                targets.setdefault(source, set()).add(t.dest)
    for name, sdef in states.items():  # an approval state leaves to its outcomes
        if sdef.approval is not None:
            outcomes = {sdef.approval.on_approved, sdef.approval.on_rejected or ""} - {""}
            targets.setdefault(name, set()).update(outcomes)
        if name in c.entries:  # a parallel state: to its regions' initial states, and on_done
            targets.setdefault(name, set()).update(c.entries[name])
        if sdef.call is not None:  # a call state leaves to on_done
            targets.setdefault(name, set()).add(sdef.call.on_done)
    seen = {initial}
    frontier = [initial]
    while frontier:
        for dest in targets.get(frontier.pop(), ()):
            if dest in states and dest not in seen:
                seen.add(dest)
                frontier.append(dest)
    for name, state in states.items():
        if name not in seen:
            c.error(
                f"state {name!r} is unreachable from initial state {initial!r}",
                c.state_path(name),
            )
        elif (
            not state.final
            and state.approval is None
            and state.call is None
            and not (targets.get(name, set()) - {name})
        ):
            c.warning(f"state {name!r} is not final and has no way out", c.state_path(name))
