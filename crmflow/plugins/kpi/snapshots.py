"""KPI snapshots: store each KPI per period and group, read trends back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from crmflow.core.store import reading

from .breakdown import DIMENSIONS, make_breakdown
from .periods import Period, previous
from .service import KpiSpec, KpiTable, compute, engine_kpis, settings_of

__all__ = [
    "DEFAULT_DIMENSIONS",
    "SnapshotResult",
    "kpi_snapshots",
    "kpi_snapshot_runs",
    "read_trend",
    "stored_values",
    "take_snapshot",
]

#: Breakdowns stored by default with each snapshot (``sku`` is opt-in: it is big).
DEFAULT_DIMENSIONS = ("department", "segment", "family")

kpi_snapshots = sa.table(
    "kpi_snapshots",
    sa.column("id", sa.Integer),
    sa.column("kpi", sa.String),
    sa.column("period_start", sa.Date),
    sa.column("period_end", sa.Date),
    sa.column("period_kind", sa.String),
    sa.column("dimension", sa.String),
    sa.column("dimension_value", sa.String),
    sa.column("value", sa.Float),
    sa.column("numerator", sa.Float),
    sa.column("denominator", sa.Float),
    sa.column("sample_size", sa.Integer),
    sa.column("details", sa.Text),
    sa.column("computed_at", sa.DateTime(timezone=True)),
)
kpi_snapshot_runs = sa.table(
    "kpi_snapshot_runs",
    sa.column("id", sa.Integer),
    sa.column("scheduled_for", sa.DateTime(timezone=True)),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("finished_at", sa.DateTime(timezone=True)),
    sa.column("summary", sa.Text),
)


@dataclass
class SnapshotResult:
    """What one snapshot stored: the period, its kind, the breakdowns and the row count."""

    period: Period
    kind: str | None
    dimensions: list[str]
    rows: int
    totals: dict[str, float | None] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period.as_json(),
            "kind": self.kind,
            "dimensions": self.dimensions,
            "rows": self.rows,
            "values": self.totals,
        }


def _dimension_list(settings: dict[str, Any], dimensions: Iterable[str] | None) -> list[str]:
    if dimensions is None:
        dimensions = settings.get("snapshot_by", DEFAULT_DIMENSIONS)
    out = list(dimensions or [])
    for dim in out:
        if dim not in DIMENSIONS:
            make_breakdown(dim, None)  # raises the error that names the choices
    return out


def _rows(
    table: KpiTable,
    values: dict[str, Any],
    dimension: str | None,
    group: str | None,
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    rows = []
    flat = table.flat(values)
    for spec in table.specs:
        got = values.get(spec.key)
        for key in spec.keys:
            row = {
                **common,
                "kpi": key,
                "dimension": dimension,
                "dimension_value": group,
                "value": flat[key],
                "numerator": None,
                "denominator": None,
                "sample_size": None,
                "details": None,
            }
            if key == spec.key and got is not None:
                row["numerator"] = got.numerator
                row["denominator"] = got.denominator
                row["sample_size"] = got.count
                row["details"] = json.dumps(got.details(), sort_keys=True, default=str)
            rows.append(row)
    return rows


def _store(
    conn: sa.Connection,
    specs: Sequence[KpiSpec],
    table: KpiTable,
    dimension: str | None,
    common: dict[str, Any],
) -> int:
    keys = [key for spec in specs for key in spec.keys]
    period = table.period
    same = [
        kpi_snapshots.c.period_start == period.start,
        kpi_snapshots.c.period_end == period.end,
        kpi_snapshots.c.kpi.in_(keys),
        kpi_snapshots.c.dimension.is_(None)
        if dimension is None
        else kpi_snapshots.c.dimension == dimension,
    ]
    # A new snapshot of a period replaces the old one: same period, same numbers.
    conn.execute(sa.delete(kpi_snapshots).where(*same))
    if dimension is None:
        rows = _rows(table, table.total, None, None, common)
    else:
        rows = [
            row
            for group, values in sorted(table.groups.items())
            for row in _rows(table, values, dimension, group, common)
        ]
    if rows:
        conn.execute(sa.insert(kpi_snapshots), rows)
    return len(rows)


def take_snapshot(
    engine: Any,
    period: Period,
    *,
    kind: str | None = None,
    dimensions: Iterable[str] | None = None,
    conn: sa.Connection | None = None,
) -> SnapshotResult:
    """Compute every KPI for ``period`` (total and each breakdown) and store the values.

    Runs in ``conn``'s transaction when given, else in its own.
    """
    if conn is None:
        with engine.db.begin() as own:
            return take_snapshot(engine, period, kind=kind, dimensions=dimensions, conn=own)
    settings = settings_of(engine)
    dims = _dimension_list(settings, dimensions)
    specs = engine_kpis(engine)
    factory = getattr(engine, "factory", None)
    common = {
        "period_start": period.start,
        "period_end": period.end,
        "period_kind": kind,
        "computed_at": engine.now(),
    }
    total = compute(conn, specs, period, factory=factory, settings=settings)
    result = SnapshotResult(period, kind, dims, 0, totals=total.flat(total.total))
    result.rows += _store(conn, specs, total, None, common)
    for dim in dims:
        table = compute(
            conn,
            specs,
            period,
            breakdown=make_breakdown(dim, factory),
            factory=factory,
            settings=settings,
            with_total=False,
        )
        result.rows += _store(conn, specs, table, dim, common)
        result.groups[dim] = {g: table.flat(v) for g, v in table.groups.items()}
    return result


def stored_values(
    conn: sa.Connection,
    kpi: str,
    periods: Sequence[Period],
    *,
    dimension: str | None = None,
    group: str | None = None,
) -> dict[Period, float | None]:
    """Stored values of ``kpi`` for the given periods (missing periods are absent)."""
    if not periods:
        return {}
    query = sa.select(
        kpi_snapshots.c.period_start, kpi_snapshots.c.period_end, kpi_snapshots.c.value
    ).where(
        kpi_snapshots.c.kpi == kpi,
        kpi_snapshots.c.period_start.in_([p.start for p in periods]),
        *_where_group(dimension, group),
    )
    wanted = set(periods)
    out: dict[Period, float | None] = {}
    for start, end, value in conn.execute(query):
        period = Period(start, end)
        if period in wanted:
            out[period] = value
    return out


def _where_group(dimension: str | None, group: str | None) -> list[Any]:
    if dimension is None:
        return [kpi_snapshots.c.dimension.is_(None)]
    return [kpi_snapshots.c.dimension == dimension, kpi_snapshots.c.dimension_value == group]


def read_trend(
    engine: Any,
    kpi: str,
    *,
    kind: str = "month",
    dimension: str | None = None,
    group: str | None = None,
    limit: int = 12,
) -> list[dict[str, Any]]:
    """The stored values of ``kpi`` for the last ``limit`` periods of ``kind``, oldest first.

    Reads snapshots only (nothing is computed), so the admin UI can draw a
    trend cheaply. Without ``dimension``, the factory total; with it, one
    group (``group``) or, when ``group`` is None, every group of the dimension.
    """
    where = [kpi_snapshots.c.kpi == kpi, kpi_snapshots.c.period_kind == kind]
    if dimension is None or group is not None:
        where += _where_group(dimension, group)
    else:
        where.append(kpi_snapshots.c.dimension == dimension)
    recent = (
        sa.select(kpi_snapshots.c.period_start)
        .where(*where)
        .distinct()
        .order_by(kpi_snapshots.c.period_start.desc())
        .limit(limit)
        .subquery()
    )
    query = (
        sa.select(
            kpi_snapshots.c.period_start,
            kpi_snapshots.c.period_end,
            kpi_snapshots.c.dimension_value,
            kpi_snapshots.c.value,
            kpi_snapshots.c.numerator,
            kpi_snapshots.c.denominator,
            kpi_snapshots.c.sample_size,
            kpi_snapshots.c.computed_at,
        )
        .where(*where, kpi_snapshots.c.period_start.in_(sa.select(recent.c.period_start)))
        .order_by(kpi_snapshots.c.period_start, kpi_snapshots.c.dimension_value)
    )
    with reading(engine.db) as conn:
        rows = conn.execute(query).all()
    out = []
    for start, end, grp, value, num, den, n, at in rows:
        item: dict[str, Any] = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "value": value,
        }
        if dimension is not None:
            item["group"] = grp
        for name, got in (("numerator", num), ("denominator", den), ("count", n)):
            if got is not None:
                item[name] = got
        item["computed_at"] = at.isoformat() if isinstance(at, dt.datetime) else at
        out.append(item)
    return out


def previous_periods(kind: str, period: Period, n: int) -> list[Period]:
    """``period`` and the ``n − 1`` periods of ``kind`` before it, newest first."""
    out = [period]
    while len(out) < n:
        out.append(previous(kind, out[-1]))
    return out
