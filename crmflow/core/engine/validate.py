"""Check a workflow file and build its definition, with file:line:col problems."""

from __future__ import annotations

import difflib
import hashlib
import inspect
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from crmflow.errors import ExpressionError, Problem

from .callcheck import call_def, on_done_without_block
from .definition import ActionSpec, StartRule, StateDef, TimerDef, TransitionDef, WorkflowDef
from .durations import DurationError, is_valid_cron, parse_duration
from .expressions import ExpressionEnv, compile_expression, compile_template, compile_value
from .language import (
    VARIABLES,
    approval_def,
    check_autos,
    check_names,
    save_as_names,
    timer_extras,
)
from .parallelcheck import PARALLEL_KEYS, check_region_moves, expand_regions
from .yamlmarks import Marks, YamlSyntaxError, load_with_marks

__all__ = ["MAX_VERSION", "WORKFLOW_KEYS", "action_parameters", "parse_workflow"]

WORKFLOW_KEYS = (
    "workflow", "version", "title", "description", "entity", "initial",
    "states", "transitions", "timers", "start_on", "correlate", "title_zh", "titles",
)  # fmt: skip
STATE_KEYS = (
    "owner", "deadline", "on_timeout", "calendar", "on_enter", "on_exit", "final",
    "title", "description", "title_zh", "titles", "approval", *PARALLEL_KEYS, "call",
)  # fmt: skip
TRANSITION_KEYS = (
    "trigger", "from", "to", "when", "roles", "do", "title", "description", "title_zh", "titles",
)  # fmt: skip
ACTION_KEYS = ("action", "with", "save_as")
TIMER_KEYS = ("cron", "after", "every", "max", "since", "calendar", "trigger", "in")
START_KEYS = ("event", "when", "unique")
MAX_VERSION = 1_000_000
REQUIRED = ("workflow", "version", "initial", "states", "transitions")
CALENDARS = ("working",)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

Path = tuple[str | int, ...]


class _Checker:
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
            if save_as is not None and (not isinstance(save_as, str) or not _NAME.match(save_as)):
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


def parse_workflow(
    text: str,
    file: str,
    env: ExpressionEnv,
    actions: Collection[str] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
) -> tuple[WorkflowDef | None, list[Problem]]:
    """Validate one workflow file; return its definition (None on errors) and problems."""
    try:
        doc, marks = load_with_marks(text)
    except YamlSyntaxError as exc:
        return None, [Problem(file, exc.mark.line, exc.mark.column, str(exc))]
    c = _Checker(file, marks, env, actions)
    for path, _mark in marks.duplicates:
        c.error(f"key {path[-1]!r} appears twice in the same mapping", path)
    if not isinstance(doc, dict):
        c.error("a workflow file must be a mapping with workflow, version, initial, states", ())
        return None, c.problems
    c.unknown_keys(doc, WORKFLOW_KEYS, (), "workflow")
    for key in REQUIRED:
        if key not in doc:
            c.problems.append(Problem(file, 1, 1, f"missing required key {key!r}"))

    wf_id = doc.get("workflow")
    if "workflow" in doc and (not isinstance(wf_id, str) or not _ID.match(wf_id)):
        c.error("workflow id must be lowercase letters, digits and _", ("workflow",), at="value")
    version = doc.get("version")
    if "version" in doc and (
        not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION
    ):
        c.error(
            f"version must be a whole number from 1 to {MAX_VERSION:,}", ("version",), at="value"
        )

    states_raw = c.mapping(doc.get("states"), ("states",), "states") or {}
    entity_name = doc.get("entity")
    known = {*VARIABLES, *save_as_names(doc), *env.globals}
    if isinstance(entity_name, str):
        known.add(entity_name)
    states = _states(c, states_raw, known)
    names_raw = {**states_raw, **expand_regions(
        c, states_raw, states,
        lambda raw, base, prefix: _states(c, raw, known, base=base, prefix=prefix),
    )}  # fmt: skip
    transitions = _transitions(c, doc.get("transitions"), names_raw, states)
    check_region_moves(c, states, transitions)

    initial = doc.get("initial")
    if "initial" in doc and (not isinstance(initial, str) or initial not in states_raw):
        hint = difflib.get_close_matches(str(initial), list(states_raw), n=1, cutoff=0.6)
        advice = f"; did you mean {hint[0]!r}?" if hint else ""
        c.error(f"initial names undefined state {initial!r}{advice}", ("initial",), at="value")
    elif isinstance(initial, str):
        _reachability(c, initial, states, transitions)

    for name, state in states.items():
        if state.on_timeout is not None:
            # a region's deadline may fire a trigger of its parallel state (leaving it)
            owners = {name, state.region[0]} if state.region else {name}
            accepted = {t.trigger for t in transitions
                        if not owners.isdisjoint(t.sources) and not t.auto}  # fmt: skip
            if state.approval is not None:
                accepted.update(("approve", "reject"))
            if state.on_timeout not in accepted:
                c.error(
                    f"on_timeout {state.on_timeout!r} is not a trigger that state {name!r} "
                    f"accepts (accepted: {', '.join(sorted(accepted)) or 'none'})",
                    (*c.state_path(name), "on_timeout"),
                    at="value",
                )
            if state.deadline is None and "deadline" not in (names_raw.get(name) or {}):
                c.error(f"state {name!r} has on_timeout but no deadline", c.state_path(name))
    check_autos(c, doc.get("transitions") or [], transitions)
    try:
        check_names(c, doc, env.globals)
    except RecursionError:
        pass  # nested too deeply to walk: the expression itself is refused at its line
    # action parameters: checked once, by _Checker.action_params (signature or params=)
    timers = _timers(c, doc.get("timers"), names_raw, transitions)
    start_on = _start_rules(c, doc.get("start_on"))
    correlate = {}
    raw_corr = c.mapping(doc.get("correlate"), ("correlate",), "correlate") or {}
    for event, template in raw_corr.items():
        compiled = c.template(template, ("correlate", event))
        if compiled is not None:
            correlate[str(event)] = compiled

    entity = doc.get("entity")
    if entity is not None and (not isinstance(entity, str) or not _NAME.match(entity)):
        c.error("entity must be a plain name such as order", ("entity",), at="value")

    if c.failed or not isinstance(initial, str):
        return None, c.problems
    definition = WorkflowDef(
        id=str(wf_id),
        version=int(version),  # type: ignore[arg-type]
        initial=initial,
        states=states,
        transitions=transitions,
        timers=timers,
        start_on=start_on,
        correlate=correlate,
        title=doc.get("title"),
        entity=entity,
        source=text,
        file=file,
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )
    return definition, c.problems


def _states(
    c: _Checker, raw: dict[Any, Any], known: Collection[str] = (),
    base: Path = ("states",), prefix: str = "",
) -> dict[str, StateDef]:
    """The states of ``raw`` (a region's have ``base`` as path and ``prefix`` in their names)."""
    states: dict[str, StateDef] = {}
    if not raw and ("states",) in c.marks.keys and not prefix:
        c.error("states is empty; define at least the initial state", ("states",))
    for name, body in raw.items():
        path: Path = (*base, name)
        if not isinstance(name, str) or not _NAME.match(name):
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


def _transitions(
    c: _Checker, raw: Any, states_raw: dict[Any, Any], states: dict[str, StateDef]
) -> list[TransitionDef]:
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
        if not isinstance(trigger, str) or not _NAME.match(trigger):
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


def _reachability(
    c: _Checker, initial: str, states: dict[str, StateDef], transitions: list[TransitionDef]
) -> None:
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
        elif not state.final and state.approval is None and state.call is None and not (
            targets.get(name, set()) - {name}
        ):
            c.warning(f"state {name!r} is not final and has no way out", c.state_path(name))


def _timers(
    c: _Checker, raw: Any, states_raw: dict[Any, Any], transitions: list[TransitionDef]
) -> list[TimerDef]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.error("timers must be a list", ("timers",), at="value")
        return []
    result = []
    for i, item in enumerate(raw):
        path: Path = ("timers", i)
        if not isinstance(item, dict):
            c.error(
                "a timer must be a mapping with cron or after, trigger and in", path, at="value"
            )
            continue
        c.unknown_keys(item, TIMER_KEYS, path, "timer")
        cron, after, every = item.get("cron"), item.get("after"), item.get("every")
        if [cron, after, every].count(None) != 2:
            c.error("a timer needs exactly one of 'cron:', 'after:' or 'every:'", path, at="value")
            continue
        since, limit = timer_extras(c, item, path, states_raw)
        period = c.duration(every, (*path, "every")) if every is not None else None
        if cron is not None and not is_valid_cron(cron):
            c.error(
                f"cron expression {cron!r} is malformed (croniter syntax, e.g. '0 8 * * MON-FRI')",
                (*path, "cron"),
                at="value",
            )
        delay = c.duration(after, (*path, "after")) if after is not None else None
        trigger = item.get("trigger")
        if not isinstance(trigger, str):
            c.error("timer has no 'trigger:'", path, at="value")
            continue
        if "in" not in item:
            c.error("timer has no 'in:' list of states", path, at="value")
            continue
        in_states = c.state_names(item["in"], (*path, "in"), states_raw, "in")
        for state in in_states:
            if not any(t.trigger == trigger and state in t.sources for t in transitions):
                c.error(
                    f"timer trigger {trigger!r} is not accepted in state {state!r}",
                    (*path, "trigger"),
                    at="value",
                )
        calendar = item.get("calendar")
        if calendar is not None and calendar not in CALENDARS:
            c.error(
                f"calendar must be one of {', '.join(CALENDARS)}", (*path, "calendar"), at="value"
            )
        result.append(
            TimerDef(
                i,
                trigger,
                tuple(in_states),
                cron if isinstance(cron, str) else None,
                delay,
                calendar if calendar in CALENDARS else None,
                since,
                period,
                limit,
            )
        )
    return result


def _start_rules(c: _Checker, raw: Any) -> list[StartRule]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.error("start_on must be a list of '- event: …' items", ("start_on",), at="value")
        return []
    rules = []
    for i, item in enumerate(raw):
        path: Path = ("start_on", i)
        if not isinstance(item, dict):
            c.error("a start_on item must be a mapping with 'event:'", path, at="value")
            continue
        c.unknown_keys(item, START_KEYS, path, "start_on")
        event = item.get("event")
        if not isinstance(event, str) or not event:
            c.error("start_on item has no 'event:' name", path, at="value")
            continue
        when = c.expression(item["when"], (*path, "when")) if "when" in item else None
        unique = c.template(item["unique"], (*path, "unique")) if "unique" in item else None
        rules.append(StartRule(event, when, unique))
    return rules
