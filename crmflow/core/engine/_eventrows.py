"""What a fired event answers and writes: results, merged data, outbox and timer rows."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import repository as repo
from .definition import ActionSpec, WorkflowDef
from .expressions import render_value
from .machine import Run
from .results import FireResult
from .sqlstatements import Statements, db_time
from .timing import timer_rows

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Engine

__all__ = [
    "_duplicate",
    "_finished",
    "_merge",
    "_outbox_rows",
    "_refusal",
    "_timer_params",
]


def _duplicate(iid: int, hid: int, state: str) -> FireResult:
    return FireResult(True, state, instance_id=iid, duplicate=True, history_id=hid)


def _refusal(iid: int, run: Run) -> FireResult:
    refusal = next((r for r in run.refusals if r.code == "guard"), run.refusals[0])
    return FireResult(False, run.state, refusal.message, refusal.code, iid)


def _finished(iid: int, state: str) -> FireResult:
    reason = f"finished: instance {iid} is finished (state {state!r}); nothing fires"
    return FireResult(False, state, reason, "finished", iid)


def _merge(data: dict[str, Any], payload: dict[str, Any], *, copy_first: bool) -> dict[str, Any]:
    if not payload:
        return data
    from .runtime import deep_merge  # runtime imports the fire paths, which import this

    return deep_merge(copy.deepcopy(data) if copy_first else data, payload)


def _outbox_rows(
    engine: Engine, iid: int, hid: int, plan: Iterable[tuple[str, str, ActionSpec]],
    data: dict[str, Any], payload: dict[str, Any], now: datetime, at: Any,
) -> list[tuple[Any, ...]]:  # fmt: skip
    """The outbox rows of a plan whose actions all run after the commit (as _run_plan)."""
    rows = []
    for index, (_phase, state, spec) in enumerate(plan):
        registered = engine.registry.actions[spec.action]
        params = render_value(spec.params, engine.expression_context(data, payload, state, now))
        rows.append(
            (iid, hid, index, spec.action, repo.dumps(params), spec.save_as,
             f"{iid}:{hid}:{index}", "pending", 0, int(registered.option("max_attempts", 5)),
             at, at)
        )  # fmt: skip
    return rows


def _timer_params(
    st: Statements, engine: Engine, iid: int, definition: WorkflowDef, state: str, now: datetime
) -> list[tuple[Any, ...]]:
    return [
        (r["instance_id"], r["name"], r["kind"], r["trigger"], r["state"],
         db_time(r["due"], st.sqlite))
        for r in timer_rows(engine, iid, definition, state, now)
    ]  # fmt: skip
