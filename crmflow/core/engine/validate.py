"""Check a workflow file and build its definition, with file:line:col problems.

:func:`parse_workflow` reads the file top to bottom: states (statecheck, with
parallel regions from parallelcheck), transitions (transitioncheck), timers
(timercheck), start rules; :class:`~.shapecheck.Checker` collects the problems.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Collection
from typing import Any

from crmflow.errors import Problem

from .booleancheck import quote_booleans
from .definition import StartRule, WorkflowDef
from .expressions import ExpressionEnv
from .language import VARIABLES, check_autos, check_names, save_as_names
from .parallelcheck import check_region_moves, expand_regions
from .shapecheck import ACTION_KEYS, PLAIN_NAME, Checker, Path, action_parameters
from .statecheck import CALENDARS, STATE_KEYS, check_states, check_timeouts, reachability
from .timercheck import TIMER_KEYS, check_timers
from .transitioncheck import TRANSITION_KEYS, check_transitions
from .yamlmarks import YamlSyntaxError, load_with_marks

__all__ = [
    "ACTION_KEYS", "CALENDARS", "MAX_VERSION", "START_KEYS", "STATE_KEYS", "TIMER_KEYS",
    "TRANSITION_KEYS", "WORKFLOW_KEYS", "action_parameters", "parse_workflow",
]  # fmt: skip

WORKFLOW_KEYS = (
    "workflow", "version", "title", "description", "entity", "initial",
    "states", "transitions", "timers", "start_on", "correlate", "title_zh", "titles",
)  # fmt: skip
START_KEYS = ("event", "when", "unique")
MAX_VERSION = 1_000_000
REQUIRED = ("workflow", "version", "initial", "states", "transitions")

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


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
    c = Checker(file, marks, env, actions)
    for path, _mark in marks.duplicates:
        c.error(f"key {path[-1]!r} appears twice in the same mapping", path)
    if not isinstance(doc, dict):
        c.error("a workflow file must be a mapping with workflow, version, initial, states", ())
        return None, c.problems
    quote_booleans(c, doc)
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
    states = check_states(c, states_raw, known)
    names_raw = {**states_raw, **expand_regions(
        c, states_raw, states,
        lambda raw, base, prefix: check_states(c, raw, known, base=base, prefix=prefix),
    )}  # fmt: skip
    transitions = check_transitions(c, doc.get("transitions"), names_raw, states)
    check_region_moves(c, states, transitions)

    initial = doc.get("initial")
    if "initial" in doc and (not isinstance(initial, str) or initial not in states_raw):
        hint = difflib.get_close_matches(str(initial), list(states_raw), n=1, cutoff=0.6)
        advice = f"; did you mean {hint[0]!r}?" if hint else ""
        c.error(f"initial names undefined state {initial!r}{advice}", ("initial",), at="value")
    elif isinstance(initial, str):
        reachability(c, initial, states, transitions)

    check_timeouts(c, states, transitions, names_raw)
    check_autos(c, doc.get("transitions") or [], transitions)
    try:
        check_names(c, doc, env.globals)
    except RecursionError:
        pass  # nested too deeply to walk: the expression itself is refused at its line
    # action parameters: checked once, by Checker.action_params (signature or params=)
    timers = check_timers(c, doc.get("timers"), names_raw, transitions)
    start_on = _start_rules(c, doc.get("start_on"))
    correlate = {}
    raw_corr = c.mapping(doc.get("correlate"), ("correlate",), "correlate") or {}
    for event, template in raw_corr.items():
        compiled = c.template(template, ("correlate", event))
        if compiled is not None:
            correlate[str(event)] = compiled

    entity = doc.get("entity")
    if entity is not None and (not isinstance(entity, str) or not PLAIN_NAME.match(entity)):
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


def _start_rules(c: Checker, raw: Any) -> list[StartRule]:
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
