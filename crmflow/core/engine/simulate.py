"""Dry-run a workflow scenario on a throw-away database with a simulated clock."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import (
    CrmflowError,
    ExpressionError,
    InputError,
    Problem,
    RefusedError,
    ValidationError,
)

from . import repository as repo
from .durations import DurationError, parse_duration
from .regions import stays
from .timing import due_after
from .yamlmarks import YamlSyntaxError, load_with_marks

__all__ = ["SimulationReport", "simulate"]

_STEP_KEYS = ("at", "fire", "emit", "wait", "as", "data", "key", "expect", "child")
_SCENARIO_KEYS = ("title", "description", "start", "steps", "expect", "until")
_DEFAULT_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday morning


@dataclass
class SimulationReport:
    workflow: str
    instance_id: int | None = None
    path: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)
    side_effects: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    final_state: str | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    #: the regions of the final state when it is a parallel state
    regions: dict[str, str] = field(default_factory=dict)
    #: sub-workflows started by `call:` states: id, workflow, state, finished, path
    children: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "final_state": self.final_state,
            "regions": self.regions,
            "path": self.path,
            "refused": self.refused,
            "sla_breaches": self.breaches,
            "side_effects": self.side_effects,
            "approvals": self.approvals,
            "children": self.children,
            "failures": self.failures,
            "ok": self.ok,
        }

    def as_text(self) -> str:
        lines = [f"simulation of {self.workflow}: final state {self.final_state}"]
        if self.regions:
            lines.append("  regions: " + ", ".join(f"{r}={s}" for r, s in self.regions.items()))
        for step in self.path:
            lines.append(
                f"  {step['at']}  {step['trigger']:<18} {step['from'] or '-'} -> "
                f"{step['to']}  by {step['actor'] or '-'}"
            )
        for r in self.refused:
            what = r.get("trigger") or r.get("event")
            lines.append(f"  refused step {r['step']} ({what} by {r.get('actor') or '-'}): "
                         f"{r['reason']}")  # fmt: skip
        lines.extend(f"  {_vote(a)}" for a in self.approvals)
        for c in self.children:
            moves = " -> ".join(p["to"] for p in c["path"])
            lines.append(f"  child #{c['id']} {c['workflow']}: {moves}"
                         + ("" if c["finished"] else "  (open)"))  # fmt: skip
            lines.extend(f"    {_vote(a)}" for a in c.get("approvals") or ())
        lines.append(f"SLA breaches: {len(self.breaches)}")
        for b in self.breaches:
            lines.append(
                f"  {b['state']}: {b['spent']} spent, deadline {b['deadline']} "
                f"(over by {b['over_by']})"
            )
        for s in self.side_effects:
            lines.append(f"  side effect (not run): {s['action']} {json.dumps(s['params'])}")
        lines.extend(f"FAILED: {f}" for f in self.failures)
        return "\n".join(lines)


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _when(value: Any, previous: datetime, tz: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    text = str(value)
    if text.startswith("+"):
        try:
            return previous + parse_duration(text[1:])
        except DurationError as exc:
            raise InputError(str(exc), field=where) from exc
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{text!r} is neither +DURATION nor an ISO time", field=where) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _load(path: Path) -> dict[str, Any]:
    try:
        doc, marks = load_with_marks(path.read_text(encoding="utf-8"))
    except YamlSyntaxError as exc:
        raise ValidationError(
            [Problem(str(path), exc.mark.line, exc.mark.column, str(exc))]
        ) from exc
    if not isinstance(doc, dict):
        raise ValidationError(
            [Problem(str(path), 1, 1, "a scenario is a mapping with start and steps")]
        )
    problems = []
    for key in doc:
        if key not in _SCENARIO_KEYS:
            mark = marks.key((key,))
            problems.append(Problem(str(path), mark.line, mark.column,
                                    f"unknown scenario key {key!r}; allowed: "
                                    f"{', '.join(_SCENARIO_KEYS)}"))
    for i, step in enumerate(doc.get("steps") or []):
        if not isinstance(step, dict):
            mark = marks.value(("steps", i))
            problems.append(Problem(str(path), mark.line, mark.column, "a step is a mapping"))
            continue
        for key in step:
            if key not in _STEP_KEYS:
                mark = marks.key(("steps", i, key))
                problems.append(
                    Problem(
                        str(path),
                        mark.line,
                        mark.column,
                        f"unknown step key {key!r}; allowed: {', '.join(_STEP_KEYS)}",
                    )
                )
    if problems:
        raise ValidationError(problems)
    return doc


def simulate(
    workflow: str,
    scenario: Path,
    *,
    workflows: str | Path | None = None,
    factory: str | Path | None = None,
    plugins: tuple[object, ...] = (),
) -> SimulationReport:
    """Run ``scenario`` against ``workflow``; nothing outlives the call."""
    from .runtime import Engine

    doc = _load(scenario)
    report = SimulationReport(workflow)
    with tempfile.TemporaryDirectory(prefix="crmflow-sim-") as folder:
        url = f"sqlite:///{Path(folder) / 'sim.sqlite3'}"
        clock = _Clock(_DEFAULT_START)
        engine = Engine.open(
            url, workflows, factory, clock=clock, plugins=plugins, inline_outbox=False
        )
        try:
            _run(engine, clock, workflow, doc, report)
        finally:
            engine.close()
    return report


def _advance(engine: Any, clock: _Clock, until: datetime) -> None:
    """Move the clock to ``until``, firing due timers in the order they fall due."""
    t = repo.timers
    while True:
        with reading(engine.db) as conn:
            due = conn.execute(sa.select(sa.func.min(t.c.due)).where(t.c.due <= until)).scalar()
        if due is None:
            break
        clock.now = max(clock.now, repo.utc(due))
        engine.tick(now=clock.now)
    clock.now = max(clock.now, until)


def _run(engine: Any, clock: _Clock, workflow: str, doc: dict[str, Any],
         report: SimulationReport) -> None:  # fmt: skip
    tz = engine.factory.timezone
    start = doc.get("start") or {}
    clock.now = _when(start.get("at", _DEFAULT_START), _DEFAULT_START, tz, "start.at")
    iid = engine.start(workflow, data=start.get("data") or {}, actor=start.get("as"))
    report.instance_id = iid
    for number, step in enumerate(doc.get("steps") or [], start=1):
        if "wait" in step:
            try:
                target = clock.now + parse_duration(step["wait"])
            except DurationError as exc:
                raise InputError(str(exc), field=f"steps[{number}].wait") from exc
        else:
            target = _when(step.get("at", "+0s"), clock.now, tz, f"steps[{number}].at")
        _advance(engine, clock, target)
        if "fire" in step and "child" in step:
            children, missing = _children(engine, iid, step["child"])
            if missing is not None:  # listed like a refusal: the scenario goes on
                report.refused.append({"step": number, "trigger": step["fire"],
                                       "child": step["child"], "actor": step.get("as"),
                                       "reason": f"child: {missing}"})  # fmt: skip
            for child in children:
                _fire(engine, child, step, number, report)
        elif "fire" in step:
            # A refusal (a guard, a role, a vote, an action that refuses) is listed and
            # the scenario goes on, so a scenario can show that a self-approval is refused.
            try:
                result = engine.fire(
                    iid,
                    str(step["fire"]),
                    data=step.get("data"),
                    key=step.get("key"),
                    actor=step.get("as"),
                )
                reason = None if result.taken else result.reason
            except (RefusedError, ExpressionError) as exc:
                reason = f"refused: {exc}"
            except CrmflowError as exc:
                reason = f"error: {exc}"
            if reason is not None:
                report.refused.append(
                    {"step": number, "trigger": step["fire"], "actor": step.get("as"),
                     "reason": reason}
                )  # fmt: skip
        elif "emit" in step:
            try:
                engine.emit(
                    str(step["emit"]),
                    step.get("data") or {},
                    key=step.get("key"),
                    actor=step.get("as") or "system",
                )
            except CrmflowError as exc:
                report.refused.append(
                    {"step": number, "event": step["emit"], "actor": step.get("as"),
                     "reason": f"refused: {exc}"}
                )  # fmt: skip
        if "expect" in step:
            inst = engine.get(iid)
            state = inst.state
            # `checks.capacity.ok`: the instance is in `checks` with region capacity at `ok`
            if inst.regions and str(step["expect"]).startswith(state + "."):
                region, _, short = str(step["expect"])[len(state) + 1 :].partition(".")
                if inst.regions.get(region) == short:
                    state = str(step["expect"])
            if state != step["expect"]:
                report.failures.append(
                    f"after step {number} the state is {state!r}, expected {step['expect']!r}"
                )
    end = doc.get("until")
    if end is not None:
        _advance(engine, clock, _when(end, clock.now, tz, "until"))
    _report(engine, clock, iid, doc, report)


def _vote(a: dict[str, Any]) -> str:
    """One vote as the text report lists it (with its comment, if any)."""
    comment = f": {a['comment']}" if a.get("comment") else ""
    return f"vote: {a['decision']} by {a['by']} for {a['for']} in {a['state']}{comment}"


def _children(engine: Any, iid: int, which: Any) -> tuple[list[int], str | None]:
    """The children a step's `child:` addresses: a position (1 = first) or a workflow id,
    and why none, when none is.

    A workflow id addresses every open child running that workflow, oldest first.
    """
    children = engine.get(iid).children
    if isinstance(which, int) and not isinstance(which, bool):
        if not 1 <= which <= len(children):
            return [], f"child {which}: the instance has {len(children)} child(ren)"
        return [int(children[which - 1]["id"])], None
    found = [int(c["id"]) for c in children if c["workflow"] == str(which) and not c["finished"]]
    return found, None if found else f"no open child runs workflow {str(which)!r}"


def _fire(engine: Any, target: int, step: dict[str, Any], number: int,
          report: SimulationReport) -> None:  # fmt: skip
    """Fire a step's trigger on a child; a refusal is listed and the scenario goes on."""
    try:
        result = engine.fire(target, str(step["fire"]), data=step.get("data"),
                             key=step.get("key"), actor=step.get("as"))  # fmt: skip
        reason = None if result.taken else result.reason
    except CrmflowError as exc:
        reason = f"refused: {exc}"
    if reason is not None:
        report.refused.append({"step": number, "trigger": step["fire"], "child": target,
                               "actor": step.get("as"), "reason": reason})  # fmt: skip


def _child_reports(engine: Any, iid: int) -> list[dict[str, Any]]:
    """Each child (and theirs), with its path, as the report lists them."""
    found = []
    for c in engine.get(iid).children:
        child = engine.get(int(c["id"]))
        found.append({
            "id": child.id, "workflow": child.workflow, "state": child.state,
            "finished": child.finished, "path": [h.as_json() for h in child.history],
            "approvals": list(child.approvals), "parent": child.parent,
        })  # fmt: skip
        found.extend(_child_reports(engine, child.id))
    return found


def _report(engine: Any, clock: _Clock, iid: int, doc: dict[str, Any],
            report: SimulationReport) -> None:  # fmt: skip
    inst = engine.get(iid)
    with reading(engine.db) as conn:
        definition = engine.catalog.get(conn, inst.workflow, inst.version).definition
    report.final_state = inst.state
    report.approvals = list(inst.approvals)
    report.regions = dict(inst.regions)
    report.children = _child_reports(engine, iid)
    report.path = [h.as_json() for h in inst.history]
    for state, since, until in stays(definition, inst.history, clock.now):
        sdef = definition.states.get(state)
        if sdef is None or sdef.deadline is None or sdef.final:
            continue
        due = due_after(engine, since, sdef.deadline, sdef.calendar)
        if until > due:
            report.breaches.append({
                "state": state, "entered": since.isoformat(), "deadline": str(sdef.deadline),
                "spent": str(until - since), "over_by": str(until - due),
            })  # fmt: skip
    o = repo.outbox
    with reading(engine.db) as conn:
        ids = [iid, *(c["id"] for c in report.children)]  # the children's effects too
        for row in conn.execute(sa.select(o).where(o.c.instance_id.in_(ids)).order_by(o.c.id)):
            report.side_effects.append(
                {"action": row.action, "params": json.loads(row.params), "key": row.key}
            )
    expect = doc.get("expect") or {}
    if "state" in expect and inst.state != expect["state"]:
        report.failures.append(f"final state is {inst.state!r}, expected {expect['state']!r}")
    if "breaches" in expect and len(report.breaches) != int(expect["breaches"]):
        report.failures.append(
            f"{len(report.breaches)} SLA breaches, expected {expect['breaches']}"
        )
