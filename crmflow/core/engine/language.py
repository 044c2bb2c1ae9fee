"""Validation of the language's additions: who acts, automatic transitions, approval states."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from .definition import ApprovalDef, TransitionDef
from .expressions import Expression
from .shapecheck import Checker

__all__ = [
    "APPROVAL_KEYS",
    "VARIABLES",
    "approval_def",
    "check_autos",
    "check_names",
    "save_as_names",
    "timer_extras",
]

#: the names every expression sees besides the entity, `save_as` names and functions
VARIABLES = ("data", "event", "state", "now", "factory", "actor", "actor_roles", "started_by")
APPROVAL_KEYS = ("approvers", "required", "four_eyes", "on_approved", "on_rejected")

Path = tuple[str | int, ...]


def approval_def(
    c: Checker, raw: Any, path: Path, states_raw: Mapping[Any, Any]
) -> ApprovalDef | None:
    """Check an `approval:` block of a state and build it (None on errors)."""
    body = c.mapping(raw, path, "approval")
    if body is None:
        return None
    c.unknown_keys(body, APPROVAL_KEYS, path, "approval")
    ok = True
    approvers = body.get("approvers")
    names = approvers if isinstance(approvers, list) else [approvers]
    if approvers is None or not names or not all(isinstance(a, str) and a for a in names):
        c.error(
            "approval needs 'approvers:', a list of roles or user names",
            (*path, "approvers") if "approvers" in body else path,
            at="value",
        )
        ok = False
    for key in ("on_approved", "on_rejected"):
        target = body.get(key)
        if target is None:
            if key == "on_approved":
                c.error("approval has no 'on_approved:' (the state entered when approved)", path)
                ok = False
            continue
        if not isinstance(target, str) or target not in states_raw:
            hint = difflib.get_close_matches(str(target), [str(s) for s in states_raw], n=1)
            advice = f"; did you mean {hint[0]!r}?" if hint else ""
            c.error(f"{key} names undefined state {target!r}{advice}", (*path, key), at="value")
            ok = False
    four_eyes = body.get("four_eyes", True)
    if not isinstance(four_eyes, bool):
        c.error("four_eyes must be true or false", (*path, "four_eyes"), at="value")
        ok = False
    required: int | str | Expression = body.get("required", 1)
    if isinstance(required, bool) or not isinstance(required, int | str):
        c.error('required must be a number, "all" or an expression', (*path, "required"))
        ok = False
    elif isinstance(required, int):
        if required < 1:
            c.error("required must be 1 or more", (*path, "required"), at="value")
            ok = False
    elif required != "all":
        compiled = c.expression(required, (*path, "required"))
        if compiled is None:
            ok = False
        required = compiled
    if not ok:
        return None
    return ApprovalDef(
        approvers=tuple(str(n) for n in names),
        required=required,
        on_approved=str(body["on_approved"]),
        on_rejected=body.get("on_rejected"),
        four_eyes=four_eyes,
    )


def check_autos(c: Checker, raw: list[Any], transitions: list[TransitionDef]) -> None:
    """An automatic transition needs `to`, and `when` unless it is the last out of its state."""
    autos = [t for t in transitions if t.auto]
    for t in autos:
        path: Path = ("transitions", t.index)
        if t.dest is None:
            c.error("an automatic transition (no 'trigger:') needs 'to:'", path, at="value")
        for source in t.sources:
            later = [u for u in autos if u.index > t.index and source in u.sources]
            if t.when is None and later:
                c.error(
                    f"automatic transition from {source!r} has no 'when:' but is not the last "
                    f"automatic transition out of {source!r} (transition {later[0].index + 1} "
                    "would never be taken)",
                    path,
                    at="value",
                )
                break
    # A cycle of automatic transitions without guards loops for ever.
    edges: dict[str, list[TransitionDef]] = {}
    for t in autos:
        if t.when is None and t.dest is not None:
            for source in t.sources:
                edges.setdefault(source, []).append(t)
    for start in sorted(edges):
        loop = _cycle(start, edges)
        if loop is not None:
            first = edges[start][0]
            c.error(
                f"automatic transitions loop: {' -> '.join(loop)} (each without 'when:')",
                ("transitions", first.index),
                at="value",
            )
            return


def _cycle(start: str, edges: dict[str, list[TransitionDef]]) -> list[str] | None:
    path = [start]
    while True:
        nxt = edges.get(path[-1])
        if not nxt or nxt[0].dest is None:
            return None
        dest = nxt[0].dest
        if dest == start:
            return [*path, dest]
        if dest in path:
            return None
        path.append(dest)


def _expressions(doc: Mapping[str, Any]) -> Iterator[tuple[Path, str, bool]]:
    """(path, source, is_template) of every expression and template of a workflow file."""
    for spath, body in _state_bodies(doc):
        for phase in ("on_enter", "on_exit"):
            yield from _action_templates(body.get(phase), (*spath, phase))
        approval = body.get("approval")
        if isinstance(approval, dict) and isinstance(approval.get("required"), str):
            if approval["required"] != "all":
                yield (*spath, "approval", "required"), approval["required"], False
    transitions = doc.get("transitions")
    for i, item in enumerate(transitions if isinstance(transitions, list) else ()):
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("when"), str):
            yield ("transitions", i, "when"), item["when"], False
        yield from _action_templates(item.get("do"), ("transitions", i, "do"))
    start_on = doc.get("start_on")
    for i, item in enumerate(start_on if isinstance(start_on, list) else ()):
        if isinstance(item, dict):
            if isinstance(item.get("when"), str):
                yield ("start_on", i, "when"), item["when"], False
            if isinstance(item.get("unique"), str):
                yield ("start_on", i, "unique"), item["unique"], True
    correlate = doc.get("correlate")
    for event, template in (correlate or {}).items() if isinstance(correlate, dict) else ():
        if isinstance(template, str):
            yield ("correlate", event), template, True


def _state_bodies(doc: Mapping[str, Any]) -> Iterator[tuple[Path, dict[Any, Any]]]:
    """(path, body) of every state, the states of parallel states' regions included."""
    states = doc.get("states")
    for name, body in (states or {}).items() if isinstance(states, dict) else ():
        if not isinstance(body, dict):
            continue
        yield ("states", name), body
        regions = body.get("parallel")
        for region, rbody in regions.items() if isinstance(regions, dict) else ():
            inner = rbody.get("states") if isinstance(rbody, dict) else None
            for short, sbody in inner.items() if isinstance(inner, dict) else ():
                if isinstance(sbody, dict):
                    yield ("states", name, "parallel", region, "states", short), sbody


def _action_templates(raw: Any, path: Path) -> Iterator[tuple[Path, str, bool]]:
    for i, item in enumerate(raw if isinstance(raw, list) else ()):
        if isinstance(item, dict) and isinstance(item.get("with"), dict):
            yield from _values(item["with"], (*path, i, "with"))


def _values(value: Any, path: Path) -> Iterator[tuple[Path, str, bool]]:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        yield path, value, True
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _values(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _values(v, (*path, i))


def save_as_names(doc: Mapping[str, Any]) -> set[str]:
    """The names that `save_as:` declares anywhere in the file."""
    names: set[str] = set()

    def collect(raw: Any) -> None:
        for item in raw if isinstance(raw, list) else ():
            if isinstance(item, dict) and isinstance(item.get("save_as"), str):
                names.add(item["save_as"])

    for _path, body in _state_bodies(doc):
        if isinstance(body, dict):
            collect(body.get("on_enter"))
            collect(body.get("on_exit"))
    transitions = doc.get("transitions")
    for item in transitions if isinstance(transitions, list) else ():
        if isinstance(item, dict):
            collect(item.get("do"))
    return names


def check_names(c: Checker, doc: Mapping[str, Any], functions: Collection[str]) -> None:
    """An expression may read only known names: `unknown name 'actr'; did you mean 'actor'?`."""
    known = set(VARIABLES) | save_as_names(doc) | set(functions)
    entity = doc.get("entity")
    if isinstance(entity, str):
        known.add(entity)
    for path, source, is_template in _expressions(doc):
        try:
            tree = c.env.parse(source if is_template else "{{ (" + source + ") }}")
        except TemplateSyntaxError:
            continue  # reported where the expression is compiled
        for name in sorted(meta.find_undeclared_variables(tree)):
            if name in known:
                continue
            hint = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            advice = (
                f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(sorted(known))}"
            )
            c.error(f"unknown name {name!r} in {source!r}{advice}", path, at="value")


def _action_items(doc: Mapping[str, Any]) -> Iterator[tuple[Path, list[Any]]]:
    for spath, body in _state_bodies(doc):
        for phase in ("on_enter", "on_exit"):
            if isinstance(body.get(phase), list):
                yield (*spath, phase), body[phase]
    transitions = doc.get("transitions")
    for i, item in enumerate(transitions if isinstance(transitions, list) else ()):
        if isinstance(item, dict) and isinstance(item.get("do"), list):
            yield ("transitions", i, "do"), item["do"]


def _parameters(fn: Any) -> set[str] | None:
    """The keyword parameters an action takes (None: any, or it cannot be known)."""
    if fn is None:
        return None
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())[1:]  # the first is the ActionContext
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }


def timer_extras(
    c: Checker, item: Mapping[str, Any], path: Path, states_raw: Mapping[Any, Any]
) -> tuple[str | None, int | None]:
    """Check a timer's `since:` (with `after:`) and `max:` (with `every:`)."""
    since = item.get("since")
    if since is not None:
        if "after" not in item:
            c.error("'since:' counts an 'after:' timer; add 'after:'", (*path, "since"))
            since = None
        elif since != "start" and (not isinstance(since, str) or since not in states_raw):
            options = ["start", *(str(s) for s in states_raw)]
            hint = difflib.get_close_matches(str(since), options, n=1, cutoff=0.6)
            advice = f"; did you mean {hint[0]!r}?" if hint else ""
            c.error(
                f"since must be 'start' or a state name, not {since!r}{advice}",
                (*path, "since"),
                at="value",
            )
            since = None
    limit = item.get("max")
    if limit is not None:
        if "every" not in item:
            c.error("'max:' limits an 'every:' timer; add 'every:'", (*path, "max"))
            limit = None
        elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            c.error("max must be a whole number from 1 up", (*path, "max"), at="value")
            limit = None
    return since, limit
