"""Scheduled snapshots (a cron in the factory config) and KPI threshold events."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from croniter import croniter

from crmflow.core.store import reading
from crmflow.errors import ConfigError

from .periods import KINDS, Period, last_full
from .service import factory_timezone, settings_of
from .snapshots import (
    SnapshotResult,
    kpi_snapshot_runs,
    previous_periods,
    stored_values,
    take_snapshot,
)

__all__ = [
    "DEFAULT_CRON",
    "THRESHOLD_EVENT",
    "Threshold",
    "check_thresholds",
    "run_due_snapshots",
    "snapshot_and_check",
    "thresholds",
]

#: Without ``snapshot_cron`` in the config: 06:00 on the first day of each month.
DEFAULT_CRON = "0 6 1 * *"
THRESHOLD_EVENT = "kpi.threshold_crossed"


@dataclass(frozen=True)
class Threshold:
    """``plugins.kpi.thresholds.<kpi>``: a limit, how many periods in a row, which groups."""

    kpi: str
    limit: float
    direction: str  # below | above
    periods: int = 1
    kind: str | None = None  # only snapshots of this period kind
    by: tuple[str, ...] = ()  # also check each group of these breakdowns

    def crossed(self, value: float | None) -> bool:
        if value is None:
            return False
        return value < self.limit if self.direction == "below" else value > self.limit


def thresholds(settings: Mapping[str, Any]) -> list[Threshold]:
    """Parse ``thresholds: {order_fill_rate: {below: 0.9, periods: 2, period: week}}``."""
    out = []
    for kpi, spec in (settings.get("thresholds") or {}).items():
        if not isinstance(spec, Mapping) or ("below" in spec) == ("above" in spec):
            raise ConfigError(
                f"plugins.kpi.thresholds.{kpi} needs exactly one of 'below' or 'above' "
                "(e.g. {below: 0.9})"
            )
        direction = "below" if "below" in spec else "above"
        kind = spec.get("period")
        if kind is not None and kind not in KINDS:
            raise ConfigError(
                f"plugins.kpi.thresholds.{kpi}.period is {kind!r}; use one of {', '.join(KINDS)}"
            )
        by = spec.get("by") or ()
        out.append(
            Threshold(
                kpi=str(kpi),
                limit=float(spec[direction]),
                direction=direction,
                periods=max(1, int(spec.get("periods", 1))),
                kind=kind,
                by=(by,) if isinstance(by, str) else tuple(by),
            )
        )
    return out


def check_thresholds(engine: Any, result: SnapshotResult) -> list[dict[str, Any]]:
    """Emit ``kpi.threshold_crossed`` for each threshold the stored snapshot crosses.

    A threshold with ``periods: N`` fires when the value is over the limit in
    this period and the ``N − 1`` stored periods of the same kind before it.
    The event key names KPI, period and group, so checking again never
    delivers the same event twice.
    """
    emitted = []
    for th in thresholds(settings_of(engine)):
        if th.kind is not None and th.kind != result.kind:
            continue
        targets: list[tuple[str | None, str | None, float | None]] = [
            (None, None, result.totals.get(th.kpi))
        ]
        for dim in th.by:
            for group, values in sorted(result.groups.get(dim, {}).items()):
                targets.append((dim, group, values.get(th.kpi)))
        for dimension, group, value in targets:
            if not th.crossed(value) or not _crossed_before(engine, th, result, dimension, group):
                continue
            payload = {
                "kpi": th.kpi,
                "value": value,
                "threshold": th.limit,
                "direction": th.direction,
                "period": {
                    "from": result.period.start.isoformat(),
                    "to": result.period.end.isoformat(),
                },
                "period_kind": result.kind,
                "periods": th.periods,
                "dimension": dimension,
                "group": group,
            }
            key = f"{th.kpi}:{th.direction}:{result.period}:{dimension or ''}:{group or ''}"
            engine.emit(THRESHOLD_EVENT, payload, key=key, actor="system")
            emitted.append(payload)
    return emitted


def _crossed_before(
    engine: Any, th: Threshold, result: SnapshotResult, dimension: str | None, group: str | None
) -> bool:
    if th.periods <= 1:
        return True
    if result.kind is None:
        return False  # a custom period has no "previous period" to look at
    earlier = previous_periods(result.kind, result.period, th.periods)[1:]
    with reading(engine.db) as conn:
        stored = stored_values(conn, th.kpi, earlier, dimension=dimension, group=group)
    return all(p in stored and th.crossed(stored[p]) for p in earlier)


def snapshot_and_check(
    engine: Any,
    period: Period,
    *,
    kind: str | None = None,
    dimensions: Iterable[str] | None = None,
) -> tuple[SnapshotResult, list[dict[str, Any]]]:
    """Store a snapshot of ``period``, then raise the threshold events it crosses."""
    result = take_snapshot(engine, period, kind=kind, dimensions=dimensions)
    return result, check_thresholds(engine, result)


def _kinds(settings: Mapping[str, Any]) -> list[str]:
    kinds = settings.get("snapshot_periods") or ["month"]
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise ConfigError(
                f"plugins.kpi.snapshot_periods names {kind!r}; use some of {', '.join(KINDS)}"
            )
    return kinds


def due_occurrence(engine: Any, now: dt.datetime) -> dt.datetime | None:
    """The latest cron occurrence at or before ``now`` (aware), or None without a schedule."""
    settings = settings_of(engine)
    cron = settings.get("snapshot_cron", DEFAULT_CRON)
    if not cron:
        return None
    if not croniter.is_valid(cron):
        raise ConfigError(
            f"plugins.kpi.snapshot_cron {cron!r} is not a cron expression "
            "(five fields, e.g. '0 6 1 * *' for 06:00 on the 1st of each month)"
        )
    tz = factory_timezone(getattr(engine, "factory", None))
    local = now.astimezone(tz) + dt.timedelta(seconds=1)  # an occurrence at `now` is due
    occurrence: dt.datetime = croniter(cron, local).get_prev(dt.datetime)
    return occurrence


def run_due_snapshots(engine: Any, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Take the snapshots the schedule says are due by ``now``; the worker calls this.

    ``plugins.kpi.snapshot_cron`` (in the factory's time zone) says when;
    ``snapshot_periods`` (default ``[month]``) which last full periods to
    store at that time; ``snapshot_by`` which breakdowns. Missed occurrences
    are coalesced into one run. Each occurrence runs once even with many
    workers: its row in ``kpi_snapshot_runs`` is unique. Returns what was
    stored (empty when nothing was due).
    """
    now = now or engine.now()
    if now.tzinfo is None:
        raise ValueError("run_due_snapshots needs an aware datetime for `now`")
    occurrence = due_occurrence(engine, now)
    if occurrence is None:
        return []
    scheduled = occurrence.astimezone(dt.UTC)
    settings = settings_of(engine)
    day = occurrence.date()
    done: list[SnapshotResult] = []
    kinds = _kinds(settings)
    with engine.db.begin() as conn:
        try:
            conn.execute(
                sa.insert(kpi_snapshot_runs).values(scheduled_for=scheduled, started_at=now)
            )
        except sa.exc.IntegrityError:
            return []  # this occurrence ran already (here or on another worker)
        for kind in kinds:
            done.append(take_snapshot(engine, last_full(kind, day), kind=kind, conn=conn))
        summary = json.dumps([r.as_json() for r in done], default=str)
        conn.execute(
            sa.update(kpi_snapshot_runs)
            .where(kpi_snapshot_runs.c.scheduled_for == scheduled)
            .values(finished_at=engine.now(), summary=summary)
        )
    out = []
    for result in done:
        item = result.as_json()
        item["events"] = check_thresholds(engine, result)
        out.append(item)
    return out
