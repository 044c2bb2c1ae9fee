"""Validation of `parallel:` states: regions, `join`, `on_done`, and moves in and out of regions."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from .definition import ParallelDef, RegionDef, StateDef, TransitionDef
from .shapecheck import Checker

__all__ = ["PARALLEL_KEYS", "REGION_KEYS", "check_region_moves", "expand_regions"]

PARALLEL_KEYS = ("parallel", "join", "on_done")
REGION_KEYS = ("initial", "states", "title", "description")
_SHORT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")

Path = tuple[str | int, ...]
#: builds the StateDefs of a mapping of state bodies: (raw, base path, name prefix)
Builder = Callable[[dict[Any, Any], Path, str], dict[str, StateDef]]


def _hint(name: Any, options: list[str]) -> str:
    found = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


def expand_regions(
    c: Checker, states_raw: Mapping[Any, Any], states: dict[str, StateDef], build: Builder
) -> dict[str, Any]:
    """Check each `parallel:` state; add its region states to ``states`` (dotted names).

    Returns the region states' bodies by dotted name, for `from`/`to`/`in` lookups;
    ``c.regional`` gets each dotted name's path in the file, ``c.entries`` the
    states a parallel state leads to (its regions' initial states and on_done),
    for reachability, even when the block has errors.
    """
    found: dict[str, Any] = {}
    top = [str(s) for s in states_raw]
    for name, body in states_raw.items():
        if not isinstance(body, dict):
            continue
        path: Path = ("states", name)
        if "parallel" not in body:
            if "join" in body:  # `on_done:` without a block: callcheck.on_done_without_block
                c.error("'join:' belongs to a parallel state; add 'parallel:'", (*path, "join"))
            continue
        if name not in states:
            continue  # reported already (a bad name)
        if body.get("final") is True:
            c.error(f"final state {name!r} cannot be parallel", (*path, "parallel"))
        if "approval" in body:
            c.error(f"parallel state {name!r} cannot hold an approval", (*path, "approval"))
        regions = _regions(c, name, body["parallel"], (*path, "parallel"), build, states, found)
        on_done = body.get("on_done")
        if on_done is None:
            c.error(
                f"parallel state {name!r} has no 'on_done:' (the state entered when the join "
                "is met)",
                path,
            )
        elif not isinstance(on_done, str) or on_done not in states_raw:
            c.error(
                f"on_done names undefined state {on_done!r}{_hint(on_done, top)}",
                (*path, "on_done"),
                at="value",
            )
            on_done = None
        raw = body["parallel"]
        count = len(raw) if isinstance(raw, dict) else 0
        need = _join(c, body.get("join", "all"), count, (*path, "join"))
        c.entries[name] = {
            *(s for s in (on_done,) if isinstance(s, str)),
            *(f"{name}.{r}.{b.get('initial')}" for r, b in (raw.items() if count else ())
              if isinstance(b, dict)),
        }  # fmt: skip
        if regions and on_done is not None and need is not None:
            join = body.get("join", "all")
            states[name] = dataclasses.replace(
                states[name], parallel=ParallelDef(tuple(regions), need, on_done, join)
            )
    return found


def _join(c: Checker, join: Any, count: int, path: Path) -> int | None:
    if join == "all":
        return count
    if join == "any":
        return 1
    if isinstance(join, bool) or not isinstance(join, int):
        c.error(f"join must be all, any or a number of regions, not {join!r}", path, at="value")
        return None
    if join < 1:
        c.error("join must be 1 or more", path, at="value")
        return None
    if count and join > count:
        c.error(f"join {join} is larger than the number of regions ({count})", path, at="value")
        return None
    return join


def _regions(
    c: Checker, parallel: str, raw: Any, path: Path, build: Builder,
    states: dict[str, StateDef], found: dict[str, Any],
) -> list[RegionDef]:  # fmt: skip
    body = c.mapping(raw, path, "parallel")
    if body is None:
        return []
    if not body:
        c.error(f"parallel state {parallel!r} needs at least one region", path, at="value")
        return []
    regions: list[RegionDef] = []
    for region, rbody in body.items():
        rpath: Path = (*path, region)
        if not isinstance(region, str) or not _SHORT.match(region):
            c.error(f"region name {region!r} must be a plain name (no dots)", rpath)
            continue
        rbody = c.mapping(rbody, rpath, f"region {region!r}")
        if rbody is None:
            continue
        c.unknown_keys(rbody, REGION_KEYS, rpath, "region")
        raw_states = c.mapping(rbody.get("states"), (*rpath, "states"), "region states")
        if raw_states is None:
            continue
        if not raw_states:
            c.error(f"region {region!r} has no 'states:'", rpath)
            continue
        shorts = [str(s) for s in raw_states]
        ok = True
        for short, sbody in raw_states.items():
            spath: Path = (*rpath, "states", short)
            if not isinstance(short, str) or not _SHORT.match(short):
                c.error(f"region state name {short!r} must be a plain name (no dots)", spath)
                ok = False
            elif isinstance(sbody, dict):
                for key in ("parallel", "approval"):
                    if key in sbody:
                        c.error(f"a region's state cannot hold '{key}:'", (*spath, key))
                        ok = False
        initial = rbody.get("initial")
        if initial is None:
            c.error(f"region {region!r} has no 'initial:'", rpath)
            ok = False
        elif not isinstance(initial, str) or initial not in raw_states:
            c.error(
                f"initial of region {region!r} names undefined state {initial!r}"
                f"{_hint(initial, shorts)}",
                (*rpath, "initial"),
                at="value",
            )
            ok = False
        finals = frozenset(
            str(s) for s, b in raw_states.items() if isinstance(b, dict) and b.get("final") is True
        )
        if not finals:
            c.error(
                f"region {region!r} has no final state (a region is done at one of its final "
                "states)",
                rpath,
            )
            ok = False
        prefix = f"{parallel}.{region}."
        built = build(raw_states, (*rpath, "states"), prefix)
        for dotted, sdef in built.items():
            states[dotted] = dataclasses.replace(
                sdef, region=(parallel, region, dotted[len(prefix) :])
            )
            c.regional[dotted] = (*rpath, "states", dotted[len(prefix) :])
            found[dotted] = raw_states.get(dotted[len(prefix) :])
        if ok:
            regions.append(RegionDef(region, str(initial), tuple(shorts), finals))
    return regions


def check_region_moves(
    c: Checker, states: Mapping[str, StateDef], transitions: list[TransitionDef]
) -> None:
    """A move stays in its region or leaves the parallel state; nothing enters a region."""
    for t in transitions:
        if t.dest is None or t.dest not in states:
            continue
        dest = states[t.dest].region
        path: Path = ("transitions", t.index, "to")
        for source in t.sources:
            where = states[source].region if source in states else None
            if dest is not None and (where is None or where[:2] != dest[:2]):
                c.error(
                    f"{t.dest!r} is a state of region {dest[1]!r} of parallel state "
                    f"{dest[0]!r}: only a move inside that region may enter it (to start "
                    f"the regions, go to {dest[0]!r})",
                    path,
                    at="value",
                )
                break
            if where is not None and dest is None and t.auto:
                c.error(
                    "an automatic transition may not leave a region; give it a trigger or "
                    f"leave from {where[0]!r}",
                    path,
                    at="value",
                )
                break
