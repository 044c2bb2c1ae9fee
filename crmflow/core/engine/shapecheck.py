"""The checker that collects file:line:col problems, and its small shape checks.

Mappings, unknown keys, durations, expressions, templates, action lists and
state names: what every part of a workflow file (states, transitions, timers)
is checked with.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Collection, Mapping
from typing import Any

from crmflow.errors import ExpressionError, Problem

from .definition import ActionSpec
from .durations import DurationError, parse_duration
from .expressions import ExpressionEnv, compile_expression, compile_template, compile_value
from .yamlmarks import Marks

__all__ = ["ACTION_KEYS", "PLAIN_NAME", "Checker", "Path", "action_parameters"]

ACTION_KEYS = ("action", "with", "save_as")
#: a state, trigger, entity or save_as name
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

Path = tuple[str | int, ...]


class Checker:
    """One workflow file's problems, each at the line and column of the key or value."""

    def __init__(
        self, file: str, marks: Marks, env: ExpressionEnv, actions: Collection[str] | None
    ) -> None:
        self.file = file
        self.marks = marks
        self.env = env
        self.actions = actions
        self.problems: list[Problem] = []
        #: the region states of parallel states: dotted name -> path in the file
        self.regional: dict[str, Path] = {}
        #: where a parallel state leads: its regions' initial states and on_done
        self.entries: dict[str, set[str]] = {}

    def state_path(self, name: str) -> Path:
        return self.regional.get(name, ("states", name))

    def error(self, message: str, path: Path, *, at: str = "key") -> None:
        self._add(message, path, at, "error")

    def warning(self, message: str, path: Path, *, at: str = "key") -> None:
        self._add(message, path, at, "warning")

    def _add(self, message: str, path: Path, at: str, severity: str) -> None:
        mark = self.marks.value(path) if at == "value" else self.marks.key(path)
        self.problems.append(Problem(self.file, mark.line, mark.column, message, severity))

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    # -- small shape checks ------------------------------------------------

    def mapping(self, value: Any, path: Path, what: str) -> dict[Any, Any] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(f"{what} must be a mapping (key: value lines)", path, at="value")
            return None
        return value

    def unknown_keys(
        self, value: dict[Any, Any], allowed: tuple[str, ...], path: Path, what: str
    ) -> None:
        for key in value:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            advice = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(allowed)}"
            self.error(f"unknown {what} key {key!r}{advice}", (*path, key))

    def duration(self, value: Any, path: Path) -> Any:
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.error(str(exc), path, at="value")
            return None

    def expression(self, value: Any, path: Path) -> Any:
        if not isinstance(value, str):
            self.error('an expression must be a string, e.g. "order.qty > 10"', path, at="value")
            return None
        try:
            return compile_expression(value, self.env)
        except ExpressionError as exc:
            self.error(str(exc), path, at="value")
            return None

    def template(self, value: Any, path: Path) -> Any:
        if not isinstance(value, str):
            self.error('a template must be a string such as "{{ event.sku }}"', path, at="value")
            return None
        try:
            return compile_template(value, self.env)
        except ExpressionError as exc:
            self.error(str(exc), path, at="value")
            return None

    def compiled_params(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return self.template(value, path) if ("{{" in value or "{%" in value) else value
        if isinstance(value, dict):
            return {k: self.compiled_params(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.compiled_params(v, (*path, i)) for i, v in enumerate(value)]
        return compile_value(value, self.env)

    def action_params(self, name: str, params: dict[Any, Any], path: Path) -> None:
        """Parameters the action does not take, or required ones missing, are errors."""
        if not isinstance(self.actions, Mapping) or name not in self.actions:
            return
        accepted = action_parameters(self.actions[name])
        if accepted is None:
            return
        names, required = accepted
        for key in params:
            if key not in names:
                hint = difflib.get_close_matches(str(key), list(names), n=1, cutoff=0.6)
                advice = f"did you mean {hint[0]!r}? " if hint else ""
                self.error(
                    f"action {name!r} takes no parameter {key!r}; {advice}it takes: "
                    f"{', '.join(names) or 'none'}",
                    (*path, "with", key),
                )
        missing = [p for p in required if p not in params]
        if missing:
            self.error(
                f"action {name!r} needs {', '.join(repr(p) for p in missing)} in 'with:'",
                (*path, "action"),
            )

    def actions_list(self, value: Any, path: Path) -> tuple[ActionSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error("actions must be a list of '- action: NAME' items", path, at="value")
            return ()
        specs = []
        for i, item in enumerate(value):
            item_path = (*path, i)
            if isinstance(item, str):
                item = {"action": item}
            if not isinstance(item, dict):
                self.error("an action item must be a mapping with 'action:'", item_path, at="value")
                continue
            self.unknown_keys(item, ACTION_KEYS, item_path, "action")
            name = item.get("action")
            if not isinstance(name, str) or not name:
                self.error("action item has no 'action:' name", item_path, at="value")
                continue
            if self.actions is not None and name not in self.actions:
                hint = difflib.get_close_matches(name, list(self.actions), n=1, cutoff=0.6)
                advice = (
                    f"; did you mean {hint[0]!r}?"
                    if hint
                    else "; install and enable the plugin that provides it (crmflow plugins)"
                )
                self.error(
                    f"unknown action {name!r} (not registered by any enabled plugin){advice}",
                    (*item_path, "action"),
                    at="value",
                )
            params = item.get("with") or {}
            if not isinstance(params, dict):
                self.error("'with:' must be a mapping of parameters", (*item_path, "with"))
                params = {}
            self.action_params(name, params, item_path)
            compiled = self.compiled_params(params, (*item_path, "with"))
            save_as = item.get("save_as")
            if save_as is not None and (
                not isinstance(save_as, str) or not PLAIN_NAME.match(save_as)
            ):
                self.error("'save_as:' must be a plain name", (*item_path, "save_as"), at="value")
                save_as = None
            specs.append(ActionSpec(action=name, params=compiled, save_as=save_as))
        return tuple(specs)

    def state_names(self, value: Any, path: Path, states: dict[str, Any], what: str) -> list[str]:
        names = value if isinstance(value, list) else [value]
        result: list[str] = []
        for i, name in enumerate(names):
            item_path = (*path, i) if isinstance(value, list) else path
            if name == "*":
                result.extend(
                    s for s, d in states.items()
                    if not (d or {}).get("final") and s not in self.regional
                )  # fmt: skip
                continue
            if not isinstance(name, str) or name not in states:
                hint = difflib.get_close_matches(str(name), list(states), n=1, cutoff=0.6)
                advice = f"; did you mean {hint[0]!r}?" if hint else ""
                self.error(f"{what} names undefined state {name!r}{advice}", item_path, at="value")
                continue
            result.append(name)
        return result


def action_parameters(registered: Any) -> tuple[list[str], list[str]] | None:
    """(accepted, required) parameter names of a registered action; None: anything goes.

    A plugin may declare them (``register(name, fn, params={"to": "required", ...})``);
    otherwise they come from the function's signature after its context argument.
    """
    declared = getattr(registered, "options", {}).get("params")
    if isinstance(declared, Mapping):
        names = [str(k) for k in declared]
        return names, [str(k) for k, v in declared.items() if v == "required"]
    func = getattr(registered, "obj", registered)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())[1:]  # the first is the ActionContext
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    usable = [
        p for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]  # fmt: skip
    return (
        [p.name for p in usable],
        [p.name for p in usable if p.default is inspect.Parameter.empty],
    )
