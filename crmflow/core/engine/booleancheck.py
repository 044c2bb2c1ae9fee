"""YAML 1.1 booleans where a name belongs: `on_rejected: no` reads as false, not `no`.

Each is an error that says to quote the word; the checks after it then see the word
itself (a string), so the file gets one clear error instead of "undefined state False".
"""

from __future__ import annotations

from typing import Any

from .shapecheck import Checker, Path

__all__ = ["quote_booleans"]

STATE = "a state name"
TRIGGER = "a trigger"
ROLE = "a role"

#: fields of a state (or region state) that name something, by what they name
_STATE_FIELDS = {"owner": ROLE, "on_timeout": TRIGGER, "on_done": STATE}
_APPROVAL_FIELDS = {"on_approved": STATE, "on_rejected": STATE, "approvers": "a role or person"}
_TRANSITION_FIELDS = {"trigger": TRIGGER, "from": STATE, "to": STATE, "roles": ROLE}
_TIMER_FIELDS = {"trigger": TRIGGER, "in": STATE, "since": STATE}
_TOP_FIELDS = {"initial": STATE, "workflow": "a workflow id", "entity": "a plain name"}


def _in_state(path: Path) -> tuple[Path, bool] | None:
    """The rest of ``path`` inside a state's body, and whether that state is a region's;
    None when ``path`` is not inside a state."""
    if len(path) < 2 or path[0] != "states":
        return None
    rest, region = path[2:], False
    while len(rest) >= 4 and rest[0] == "parallel" and rest[2] == "states":
        rest, region = rest[4:], True
    return rest, region


def _kind(path: Path, key: bool) -> str | None:
    """What is expected at ``path`` (a key, or a value), when it is a name."""
    if key:
        if path[:1] == ("states",) and len(path) == 2:
            return STATE
        inside = _in_state(path[:-1])
        if inside is not None:
            rest = inside[0]
            if rest == ("parallel",):
                return "a region name"
            if len(rest) == 3 and rest[0] == "parallel" and rest[2] == "states":
                return STATE
        return None
    if len(path) == 1:
        return _TOP_FIELDS.get(str(path[0]))
    if path[0] in ("transitions", "timers") and len(path) in (3, 4) and isinstance(path[1], int):
        if len(path) == 4 and not isinstance(path[3], int):
            return None
        fields = _TRANSITION_FIELDS if path[0] == "transitions" else _TIMER_FIELDS
        return fields.get(str(path[2]))
    if path[0] == "start_on" and len(path) == 3 and path[2] == "event":
        return "an event name"
    inside = _in_state(path)
    if inside is None:
        return None
    rest = inside[0]
    if rest and isinstance(rest[-1], int):
        rest = rest[:-1]  # an item of a list of names
    if len(rest) == 1:
        return _STATE_FIELDS.get(str(rest[0]))
    if len(rest) == 2 and rest[0] == "approval":
        return _APPROVAL_FIELDS.get(str(rest[1]))
    if rest == ("call", "workflow"):
        return "a workflow id"
    if len(rest) == 3 and rest[0] == "parallel" and rest[2] == "initial":
        return STATE
    return None


def quote_booleans(c: Checker, doc: dict[Any, Any]) -> None:
    """Report each boolean where a name is expected, and put its word in its place."""
    marks = c.marks
    found = [(p, text, False) for p, text in marks.booleans.items()]
    found += [(p, text, True) for p, text in marks.boolean_keys.items()]
    renamed: list[tuple[Path, str]] = []
    for path, text, key in sorted(found, key=lambda f: _position(c, f[0], f[2])):
        kind = _kind(path, key)
        if kind is None:
            continue
        value = str(path[-1] if key else _get(doc, path)).lower()
        c.error(f"{text} is read by YAML as the boolean {value}, not as {kind}; quote it: "
                f'"{text}"', path, at="key" if key else "value")  # fmt: skip
        if key:
            renamed.append((path, text))
        else:
            parent = _get(doc, path[:-1])
            if isinstance(parent, dict | list):
                parent[path[-1]] = text  # type: ignore[index]
    for path, text in sorted(renamed, key=lambda r: -len(r[0])):  # the deepest first
        parent = _get(doc, path[:-1])
        if isinstance(parent, dict):
            items = [(text if _same(k, path[-1]) else k, v) for k, v in parent.items()]
            parent.clear()
            parent.update(items)
        new = (*path[:-1], text)
        for table in (marks.keys, marks.values):
            moved = {_rename(p, path, new): m for p, m in table.items()}
            table.clear()
            table.update(moved)


def _position(c: Checker, path: Path, key: bool) -> tuple[int, int]:
    mark = c.marks.key(path) if key else c.marks.value(path)
    return mark.line, mark.column


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _get(doc: Any, path: Path) -> Any:
    for part in path:
        if isinstance(doc, dict):
            doc = next((v for k, v in doc.items() if _same(k, part)), None)
        elif isinstance(doc, list) and isinstance(part, int) and 0 <= part < len(doc):
            doc = doc[part]
        else:
            return None
    return doc


def _rename(path: Path, old: Path, new: Path) -> Path:
    n = len(old)
    if len(path) >= n and all(_same(a, b) for a, b in zip(path[:n], old, strict=False)):
        return (*new, *path[n:])
    return path
