"""Validation of sub-workflow `call:` states: the block itself, and calls across files."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from crmflow.errors import Problem

from .definition import CallDef, WorkflowDef
from .shapecheck import Checker
from .yamlmarks import YamlSyntaxError, load_with_marks

__all__ = [
    "CALL_KEYS", "Call", "call_def", "check_calls", "on_done_without_block", "unknown_calls",
    "yaml_calls",
]  # fmt: skip

CALL_KEYS = ("workflow", "for_each", "data")

Path = tuple[str | int, ...]


def on_done_without_block(c: Checker, body: Mapping[Any, Any], path: Path) -> None:
    """`on_done:` belongs to a `call:` (or `parallel:`) state."""
    if "on_done" in body and "call" not in body and "parallel" not in body:
        c.error(
            "'on_done:' belongs to a 'call:' (or 'parallel:') state; this state has neither",
            (*path, "on_done"),
        )


def call_def(
    c: Checker, body: Mapping[Any, Any], path: Path, states_raw: Mapping[Any, Any],
    known: Collection[str],
) -> CallDef | None:  # fmt: skip
    """Check a state's `call:` block and its `on_done:`; build the CallDef (None on errors).

    ``known`` are the names expressions may read; the call's templates also see ``item``.
    """
    call_path = (*path, "call")
    block = c.mapping(body.get("call"), call_path, "call")
    if block is None:
        return None
    c.unknown_keys(block, CALL_KEYS, call_path, "call")
    ok = True
    workflow = block.get("workflow")
    if not isinstance(workflow, str) or not workflow:
        c.error("call needs 'workflow:', the id of the workflow each child runs",
                (*call_path, "workflow") if "workflow" in block else call_path,
                at="value")  # fmt: skip
        ok = False
    on_done = body.get("on_done")
    if on_done is None:
        c.error("a 'call:' state needs 'on_done:' (the state entered when every child has "
                "finished)", path)  # fmt: skip
        ok = False
    elif not isinstance(on_done, str) or on_done not in states_raw:
        hint = difflib.get_close_matches(str(on_done), [str(s) for s in states_raw], n=1)
        advice = f"; did you mean {hint[0]!r}?" if hint else ""
        c.error(f"on_done names undefined state {on_done!r}{advice}", (*path, "on_done"),
                at="value")  # fmt: skip
        ok = False
    names = {*known, "item"}
    for_each = None
    if "for_each" in block:
        raw = block["for_each"]
        for_each = c.template(raw, (*call_path, "for_each"))
        if for_each is None:
            ok = False
        else:
            ok = _names(c, raw, (*call_path, "for_each"), names - {"item"}) and ok
    data = block.get("data")
    if data is not None and not isinstance(data, dict):
        c.error("call 'data:' must be a mapping of the child's data", (*call_path, "data"),
                at="value")  # fmt: skip
        ok = False
        data = None
    compiled = None
    if data:
        before = len(getattr(c, "problems", ()))
        compiled = c.compiled_params(data, (*call_path, "data"))
        ok = ok and len(getattr(c, "problems", ())) == before
        for key_path, source in _strings(data, (*call_path, "data")):
            ok = _names(c, source, key_path, names) and ok
    if not ok:
        return None
    return CallDef(str(workflow), str(on_done), for_each, compiled)


def _strings(value: Any, path: Path) -> Iterable[tuple[Path, str]]:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _names(c: Checker, source: Any, path: Path, known: Collection[str]) -> bool:
    """An unknown name in a call template is an error, as in every expression."""
    if not isinstance(source, str):
        return True
    try:
        tree = c.env.parse(source)
    except TemplateSyntaxError:
        return True  # reported where the template is compiled
    ok = True
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name in known:
            continue
        hint = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        advice = f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(sorted(known))}"
        c.error(f"unknown name {name!r} in {source!r}{advice}", path, at="value")
        ok = False
    return ok


#: a `call:` read from a file: the caller's id, its file, LINE, COL of the call's
#: `workflow:`, and the workflow it calls
Call = tuple[str, str, int, int, str]


def check_calls(
    definitions: Iterable[WorkflowDef], texts: Mapping[str, str], known: Collection[str] = (),
    broken: Iterable[Call] = (),
) -> list[Problem]:  # fmt: skip
    """Calls of workflows nobody defines ("did you mean"), and cycles of calls.

    ``texts`` maps a definition's file to its text (for the `workflow:` line of
    the call); ``known`` are workflow ids defined elsewhere (the factory's folder).
    ``broken`` are the calls of files with other errors (see :func:`yaml_calls`): they
    take part in loops, so one mistake in a file does not hide a loop through it.
    """
    defs = list(definitions)
    ids = {d.id for d in defs} | set(known)
    problems: list[Problem] = []
    calls: dict[str, list[Call]] = {}
    for d in defs:
        for call in _definition_calls(d, texts):
            calls.setdefault(d.id, []).append(call)
    problems.extend(unknown_calls([c for items in calls.values() for c in items], ids))
    for call in broken:
        calls.setdefault(call[0], []).append(call)
    reported: set[str] = set()
    for start in sorted(calls):
        loop = _cycle(start, calls)
        if loop is None or start in reported:
            continue
        reported.update(loop)
        _caller, file, line, column, _called = next(i for i in calls[start] if i[4] == loop[1])
        problems.append(Problem(
            file, line, column,
            f"workflows call each other in a loop: {' -> '.join(loop)}; a child would start "
            "its own parent's workflow again without end",
        ))  # fmt: skip
    return problems


def yaml_calls(text: str, file: str) -> list[Call]:
    """The calls of a file that has other errors (no definition), read from the YAML itself."""
    try:
        doc, marks = load_with_marks(text)
    except YamlSyntaxError:  # reported where the file was parsed
        return []
    caller = doc.get("workflow") if isinstance(doc, dict) else None
    states = doc.get("states") if isinstance(doc, dict) else None
    found: list[Call] = []
    for state, body in (states or {}).items() if isinstance(states, dict) else ():
        call = body.get("call") if isinstance(body, dict) else None
        called = call.get("workflow") if isinstance(call, dict) else None
        if isinstance(called, str) and called:
            mark = marks.value(("states", state, "call", "workflow"))
            found.append((str(caller), file, mark.line, mark.column, called))
    return found


def unknown_calls(calls: Iterable[Call], ids: Collection[str]) -> list[Problem]:
    """The calls of ``calls`` naming a workflow nobody defines, with a "did you mean"."""
    problems: list[Problem] = []
    for _caller, file, line, column, called in calls:
        if called in ids:
            continue
        hint = difflib.get_close_matches(called, sorted(ids), n=1, cutoff=0.6)
        advice = f"; did you mean {hint[0]!r}?" if hint else ""
        problems.append(Problem(
            file, line, column,
            f"call names workflow {called!r}, which this folder or factory does not "
            f"define{advice}",
        ))  # fmt: skip
    return problems


def _cycle(start: str, calls: Mapping[str, list[Call]]) -> list[str] | None:
    """A path start -> … -> start through the call graph, if any (depth-first)."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for *_where, called in calls.get(node, ()):
            if called == start:
                return [*path, start]
            if called not in seen:
                seen.add(called)
                stack.append((called, [*path, called]))
    return None


def _definition_calls(d: WorkflowDef, texts: Mapping[str, str]) -> list[Call]:
    """The calls of a valid definition, each at its `workflow:` line in the file's text."""
    file = d.file or d.id
    text = texts.get(file)
    marks = load_with_marks(text)[1] if text is not None else None
    found: list[Call] = []
    for state, sdef in d.states.items():
        if sdef.call is None:
            continue
        line, column = 1, 1
        if marks is not None:
            mark = marks.value(("states", state, "call", "workflow"))
            line, column = mark.line, mark.column
        found.append((d.id, file, line, column, sdef.call.workflow))
    return found
