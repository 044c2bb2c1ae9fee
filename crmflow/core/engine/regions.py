"""Parallel states: what their regions are, where they stand, when the join is met.

Pure helpers over a :class:`WorkflowDef` and an instance's ``regions`` mapping
(``{"capacity": "pending", "credit": "ok"}``, short names); the decide step
and the write step call them, nothing here touches the database.

A region state is known everywhere else by its dotted name
(``checks.capacity.pending``): its deadline, timers, owner and actions are
those of an ordinary state of that name, and its timer rows carry that name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .definition import ParallelDef, StateDef, WorkflowDef

__all__ = [
    "Walk",
    "active_states",
    "carried_regions",
    "dotted",
    "done_count",
    "entered_regions",
    "entry_names",
    "in_any",
    "initial_states",
    "joined",
    "load_regions",
    "open_states",
    "region_exits",
    "regions_json",
    "stays",
    "triggers_with_regions",
]


def dotted(parallel: str, region: str, state: str) -> str:
    """The name of a region's state in `from`, `to`, history and timer rows."""
    return f"{parallel}.{region}.{state}"


def entry_names(definition: WorkflowDef, state: str) -> tuple[str, ...]:
    """The states whose entry enters ``state``: itself, and for its region's initial state
    the parallel state too (entering it puts each region in its initial, with no history row
    of its own)."""
    sdef = definition.states.get(state)
    if sdef is None or sdef.region is None:
        return (state,)
    parallel, region, short = sdef.region
    pdef = definition.states[parallel].parallel
    first = next((r for r in pdef.regions if r.name == region), None) if pdef else None
    return (state, parallel) if first is not None and first.initial == short else (state,)


def load_regions(stored: Any) -> dict[str, str] | None:
    """The ``instances.regions`` column as a mapping (None: not in a parallel state)."""
    if stored is None or stored == "":
        return None
    value = json.loads(stored) if isinstance(stored, str) else stored
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None


def regions_json(regions: dict[str, str] | None) -> str | None:
    return None if regions is None else json.dumps(regions, separators=(",", ":"))


def entered_regions(definition: WorkflowDef, state: str) -> dict[str, str] | None:
    """The regions an instance holds on entering ``state``: each at its initial state."""
    parallel = definition.states[state].parallel
    if parallel is None:
        return None
    return {r.name: r.initial for r in parallel.regions}


def carried_regions(
    definition: WorkflowDef, state: str, old: dict[str, str] | None
) -> dict[str, str] | None:
    """The regions of ``state`` after a move to another version (migrate-instances).

    A region of the same name whose state exists keeps it; the others start again.
    """
    fresh = entered_regions(definition, state)
    if fresh is None:
        return None
    for region, short in (old or {}).items():
        if region in fresh and f"{state}.{region}.{short}" in definition.states:
            fresh[region] = short
    return fresh


def initial_states(definition: WorkflowDef, state: str) -> tuple[str, ...]:
    """The dotted initial states of ``state``'s regions (empty when it is not parallel)."""
    parallel = definition.states[state].parallel
    if parallel is None:
        return ()
    return tuple(dotted(state, r.name, r.initial) for r in parallel.regions)


def active_states(state: str, regions: dict[str, str] | None) -> list[str]:
    """The dotted states an instance is in besides ``state`` (one per region)."""
    return [dotted(state, r, s) for r, s in (regions or {}).items()]


def open_states(definition: WorkflowDef, state: str, regions: dict[str, str] | None) -> list[str]:
    """The dotted states of the regions not done yet (those that still take triggers)."""
    return [
        name for name in active_states(state, regions)
        if name in definition.states and not definition.states[name].final
    ]  # fmt: skip


def done_count(parallel: ParallelDef, regions: dict[str, str]) -> int:
    return sum(1 for r in parallel.regions if regions.get(r.name) in r.finals)


def joined(definition: WorkflowDef, state: str, regions: dict[str, str] | None) -> bool:
    """Whether the join of parallel ``state`` is met by ``regions``."""
    parallel = definition.states[state].parallel
    if parallel is None or regions is None:
        return False
    return done_count(parallel, regions) >= parallel.need


def region_exits(
    definition: WorkflowDef, state: str, regions: dict[str, str] | None
) -> tuple[tuple[str, str, Any], ...]:
    """The `on_exit` actions of the regions' current states, as plan entries, region order."""
    found: list[tuple[str, str, Any]] = []
    for name in active_states(state, regions):
        sdef: StateDef | None = definition.states.get(name)
        if sdef is not None:
            found.extend(("on_exit", name, spec) for spec in sdef.on_exit)
    return tuple(found)


def triggers_with_regions(
    definition: WorkflowDef, state: str, regions: dict[str, str] | None
) -> list[str]:
    """The triggers an instance accepts: its state's, then each open region's."""
    seen: dict[str, None] = dict.fromkeys(definition.triggers_in(state))
    parallel = definition.states[state].parallel if state in definition.states else None
    if parallel is None or regions is None:
        return list(seen)
    finals = {r.name: r.finals for r in parallel.regions}
    for region, short in regions.items():
        if short in finals.get(region, ()):
            continue
        seen.update(dict.fromkeys(definition.triggers_in(dotted(state, region, short))))
    return list(seen)


def in_any(states: Iterable[str], state: str, regions: dict[str, str] | None) -> bool:
    """Whether ``state`` or one of the regions' current states is among ``states``."""
    wanted = set(states)
    return state in wanted or any(s in wanted for s in active_states(state, regions))


class Walk:
    """Where one fired event has taken an instance so far: its state and regions.

    The write step applies steps in order; a region step whose region was
    left meanwhile (the join was met, or a move left the parallel state) is stale.
    """

    __slots__ = ("definition", "state", "regions", "top_changed")

    def __init__(self, definition: WorkflowDef, state: str, regions: dict[str, str] | None):
        self.definition = definition
        self.state = state
        self.regions = dict(regions) if regions is not None else None
        self.top_changed = False

    def _region(self, name: str) -> tuple[str, str, str] | None:
        sdef = self.definition.states.get(name)
        return None if sdef is None else sdef.region

    def current(self, source: str) -> bool:
        """Whether a step from ``source`` still applies."""
        where = self._region(source)
        if where is None:
            return source == self.state
        parallel, region, short = where
        return self.state == parallel and (self.regions or {}).get(region) == short

    def region_step(self, source: str, target: str) -> bool:
        """Whether a step moves inside one region (the instance stays in its parallel state)."""
        where = self._region(source)
        return (
            where is not None
            and self._region(target) is not None
            and (
                self._region(target)[:2] == where[:2]  # type: ignore[index]
            )
        )

    def take(self, source: str, target: str, changed: bool) -> tuple[str, ...]:
        """Apply a step; return the dotted initial states of regions it entered."""
        if self.region_step(source, target):
            _parallel, region, _short = self._region(target)  # type: ignore[misc]
            assert self.regions is not None
            self.regions[region] = target.rsplit(".", 1)[1]
            return ()
        if not changed:
            return ()  # internal: state and regions stay
        self.top_changed = True
        self.state = target
        self.regions = entered_regions(self.definition, target)
        return initial_states(self.definition, target)

    def joined(self) -> bool:
        return joined(self.definition, self.state, self.regions)


def stays(
    definition: WorkflowDef, history: Iterable[Any], now: datetime
) -> list[tuple[str, datetime, datetime]]:
    """(state, entered, left) of every stay in a state or a region's state, from history.

    A region's states are entered with their parallel state (its initial state)
    or by the region's moves, and left when the parallel state is left.
    """
    found: list[tuple[str, datetime, datetime]] = []
    top: tuple[str, datetime] | None = None
    lanes: dict[tuple[str, str], tuple[str, datetime]] = {}  # (parallel, region) -> stay

    def close_lanes(at: datetime) -> None:
        for name, since in lanes.values():
            found.append((name, since, at))
        lanes.clear()

    for h in history:
        sdef = definition.states.get(h.to_state)
        where = sdef.region if sdef is not None else None
        if where is not None:  # a region's move
            if h.from_state == h.to_state:
                continue
            lane = where[:2]
            if lane in lanes:
                found.append((lanes[lane][0], lanes[lane][1], h.at))
            lanes[lane] = (h.to_state, h.at)
            continue
        if h.from_state == h.to_state:
            continue
        if top is not None:
            found.append((top[0], top[1], h.at))
        close_lanes(h.at)
        top = (h.to_state, h.at)
        for name in initial_states(definition, h.to_state) if sdef is not None else ():
            where = definition.states[name].region
            assert where is not None
            lanes[where[:2]] = (name, h.at)
    if top is not None:
        found.append((top[0], top[1], now))
    close_lanes(now)
    return sorted(found, key=lambda stay: stay[1])
