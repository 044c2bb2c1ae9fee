"""Pilot comparison: the pilot departments against the rest, and before/after the pilot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from crmflow.core.store import reading
from crmflow.errors import ConfigError, NotFoundError

from .breakdown import department_breakdown
from .periods import Period
from .service import KpiTable, compute, engine_kpis, resolve_period, settings_of, today

__all__ = ["pilot_comparison"]


def _sides(table: KpiTable) -> dict[str, Any]:
    return {
        "period": table.period.as_json(),
        "pilot": table.flat(table.groups.get("pilot", {})),
        "rest": table.flat(table.groups.get("rest", {})),
    }


def pilot_comparison(
    engine: Any,
    departments: Sequence[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    workflow: str | None = None,
) -> dict[str, Any]:
    """The KPIs of the pilot departments and of the rest, side by side.

    ``departments`` names the pilot departments (default: the departments of
    ``workflow``'s pilot in the factory's rollout, else of every workflow and
    plugin in pilot, else every department with a ``pilot_start``); the
    pilot's start is the rollout's ``since`` where it gives one. Three
    comparisons: over ``[start, end)`` (default
    the last full month); ``after``, from the pilot's start (the earliest
    ``pilot_start`` of the pilot departments) to ``end`` or today; ``before``,
    as many days just before the start. An order belongs to the department
    whose members include its sales rep.
    """
    factory = getattr(engine, "factory", None)
    all_depts = list(getattr(factory, "departments", None) or [])
    by_id = {d.id: d for d in all_depts}
    since: dt.date | None = None
    rollout = getattr(engine, "rollout", None)
    if not departments and rollout is not None:
        names = [workflow] if workflow else []
        pilots_now = [
            s for s in rollout.states(names).values()
            if s.mode == "pilot" and (workflow is None or s.name == workflow)
        ]  # fmt: skip
        if workflow and not pilots_now:
            raise ConfigError(f"{workflow} is not in pilot; `crmflow rollout` shows each stage")
        departments = tuple(dict.fromkeys(d for s in pilots_now for d in s.departments))
        dates = [s.since for s in pilots_now if s.since]
        since = min(dates) if dates else None
    if departments:
        missing = [d for d in departments if d not in by_id]
        if missing:
            raise NotFoundError(
                f"no department {', '.join(map(repr, missing))} in the factory config; "
                f"departments: {', '.join(sorted(by_id)) or 'none'}"
            )
        pilots = [by_id[d] for d in departments]
    else:
        pilots = [d for d in all_depts if getattr(d, "pilot_start", None)]
    if not pilots:
        raise ConfigError(
            "no pilot department: give a department, or set pilot_start on the departments "
            "rolled out as a pilot in the factory config"
        )
    starts = [d.pilot_start for d in pilots if getattr(d, "pilot_start", None)]
    pilot_start = since or (min(starts) if starts else None)
    breakdown = department_breakdown(all_depts, pilot={d.id for d in pilots})
    specs = engine_kpis(engine)
    settings = settings_of(engine)
    period = resolve_period(engine, start, end)
    out: dict[str, Any] = {
        "pilot_departments": [d.id for d in pilots],
        "rest_departments": [d.id for d in all_depts if d not in pilots],
        "pilot_start": pilot_start.isoformat() if pilot_start else None,
        "units": {spec.key: spec.unit for spec in specs},
    }
    with reading(engine.db) as conn:

        def side(p: Period) -> dict[str, Any]:
            return _sides(
                compute(
                    conn,
                    specs,
                    p,
                    breakdown=breakdown,
                    factory=factory,
                    settings=settings,
                    with_total=False,
                )  # fmt: skip
            )

        out.update(side(period))
        if pilot_start is not None:
            after_end = end or today(engine)
            if after_end > pilot_start:
                after = Period(pilot_start, after_end)
                out["after"] = side(after)
                out["before"] = side(after.shifted(-after.days))
    return out
