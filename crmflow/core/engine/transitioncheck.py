"""The transitions: of a workflow file checked: triggers, from/to states, when, roles, do."""

from __future__ import annotations

from typing import Any

from .definition import StateDef, TransitionDef
from .shapecheck import PLAIN_NAME, Checker, Path

__all__ = ["TRANSITION_KEYS", "check_transitions"]

TRANSITION_KEYS = (
    "trigger", "from", "to", "when", "roles", "do", "title", "description", "title_zh", "titles",
)  # fmt: skip


def check_transitions(
    c: Checker, raw: Any, states_raw: dict[Any, Any], states: dict[str, StateDef]
) -> list[TransitionDef]:
    """The transitions of ``raw``; ``states_raw`` holds every state name (regions' dotted)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.error("transitions must be a list of '- trigger: …' items", ("transitions",), at="value")
        return []
    result = []
    for i, item in enumerate(raw):
        path: Path = ("transitions", i)
        if not isinstance(item, dict):
            c.error("a transition must be a mapping with trigger, from, to", path, at="value")
            continue
        c.unknown_keys(item, TRANSITION_KEYS, path, "transition")
        auto = "trigger" not in item
        trigger = "auto" if auto else item.get("trigger")
        if not isinstance(trigger, str) or not PLAIN_NAME.match(trigger):
            c.error(
                "transition has no valid 'trigger:' name",
                path if "trigger" not in item else (*path, "trigger"),
                at="value",
            )
            continue
        if trigger == "start":
            c.error(
                "'start' is reserved for starting an instance; rename the trigger",
                (*path, "trigger"),
                at="value",
            )
        if "from" not in item:
            c.error(f"transition {trigger!r} has no 'from:'", path, at="value")
            continue
        sources = c.state_names(item["from"], (*path, "from"), states_raw, "from")
        voting = [s for s in sources if states.get(s) and states[s].approval is not None]
        if trigger in ("approve", "reject") and voting and not auto:
            c.error(
                f"approval state {voting[0]!r} takes {trigger!r} itself (votes); name this "
                "trigger otherwise or use on_approved/on_rejected",
                (*path, "trigger"),
                at="value",
            )
        for source in sources:
            if states.get(source) and states[source].final and item["from"] != "*":
                c.error(
                    f"transition {trigger!r} leaves final state {source!r}; a final state "
                    "ends the instance",
                    (*path, "from"),
                    at="value",
                )
        dest = item.get("to")
        if dest is not None and (not isinstance(dest, str) or dest not in states_raw):
            c.state_names(dest, (*path, "to"), states_raw, "to")
            dest = None
        when = c.expression(item["when"], (*path, "when")) if "when" in item else None
        roles_raw = item.get("roles")
        roles: tuple[str, ...] | None = None
        if roles_raw is not None:
            names = roles_raw if isinstance(roles_raw, list) else [roles_raw]
            if not all(isinstance(r, str) and r for r in names):
                c.error("roles must be a list of role names", (*path, "roles"), at="value")
            else:
                roles = tuple(names)
        do = c.actions_list(item.get("do"), (*path, "do"))
        result.append(TransitionDef(i, trigger, tuple(sources), dest, when, roles, do, auto))
    return result
