"""Forecast runs on the order history, stored snapshots, accuracy, champions and events."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from crmflow.core.store import reading

from .metrics import mase_scale
from .periods import month_start
from .protocol import ForecastModel
from .records import (
    ForecastAccuracy,
    ForecastChampion,
    ForecastSeries,
    ForecastSnapshot,
    ForecastValue,
)
from .registry import DEFAULT_TOP, builtin_registry, model_pool
from .regressors import REGRESSOR_SUFFIX
from .selection import forecast_panel
from .signals import demand_signals, signal_sources

__all__ = [
    "DEFAULT_THRESHOLD",
    "DailyForecast",
    "MonthlyHistory",
    "accuracy_report",
    "daily_forecast",
    "monthly_history",
    "record_accuracy",
    "run_forecast",
]

DEFAULT_THRESHOLD = 0.6
DEFAULT_WINDOW = 3
Emit = Callable[[str, dict[str, Any]], Any]

_T_SNAP = ForecastSnapshot.__table__  # type: ignore[attr-defined]
_T_SERIES = ForecastSeries.__table__  # type: ignore[attr-defined]
_T_VALUE = ForecastValue.__table__  # type: ignore[attr-defined]
_T_ACC = ForecastAccuracy.__table__  # type: ignore[attr-defined]
_T_CHAMP = ForecastChampion.__table__  # type: ignore[attr-defined]

_ORDER_LINES = sa.text(
    "SELECT l.sku, l.requested_date, l.quantity, c.segment, p.family "
    "FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
    "LEFT JOIN customers c ON c.customer_id = o.customer_id "
    "LEFT JOIN products p ON p.sku = l.sku "
    "WHERE o.status <> 'cancelled' AND l.status <> 'cancelled' "
    "AND l.requested_date < :until"
)


@dataclass
class MonthlyHistory:
    """Demand per SKU and month (by requested date) and per customer segment."""

    months: dict[str, dict[dt.date, float]] = field(default_factory=dict)
    segments: dict[str, dict[tuple[dt.date, str], float]] = field(default_factory=dict)
    families: dict[str, str | None] = field(default_factory=dict)

    def series(self, sku: str, end: dt.date) -> tuple[dt.date, np.ndarray]:
        """The SKU's months from its first demand up to (not including) ``end``, gaps as 0."""
        by_month = self.months.get(sku, {})
        first = min(by_month) if by_month else end
        count = (end.year - first.year) * 12 + end.month - first.month
        return first, np.array([by_month.get(month_start(first, k), 0.0) for k in range(count)])


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def monthly_history(conn: sa.Connection, until: dt.date) -> MonthlyHistory:
    """Read accepted order lines requested before ``until`` (cancelled ones excluded)."""
    history = MonthlyHistory()
    months_of: dict[Any, dt.date] = {}  # a few thousand distinct days among many lines
    for sku, requested, qty, segment, family in conn.execute(_ORDER_LINES, {"until": until}):
        month = months_of.get(requested)
        if month is None:
            month = months_of[requested] = month_start(_as_date(requested))
        months = history.months.setdefault(sku, {})
        months[month] = months.get(month, 0.0) + float(qty)
        seg = history.segments.setdefault(sku, {})
        key = (month, segment or "unknown")
        seg[key] = seg.get(key, 0.0) + float(qty)
        history.families[sku] = family
    return history


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def run_forecast(
    db: sa.Engine, *, now: dt.datetime | None = None, horizon: int = 6,
    models: Mapping[str, ForecastModel] | None = None, top: int = DEFAULT_TOP,
    skus: Iterable[str] | None = None,
) -> int | None:  # fmt: skip
    """Forecast every SKU with order history from this month on; store a snapshot.

    Returns the snapshot id, or None when there is no history. The champion
    of each SKU (model, backtest MASE, best challenger, reason) is updated.
    Stored demand signals (opportunities, market indicators, customer
    feedback) are offered as regressors: a model with them becomes champion
    only where it beats the same model without them in the backtest of that
    SKU, and the champion row says which sources it uses.
    """
    now = _now(now)
    first = month_start(now.date())
    pool = dict(models) if models is not None else model_pool(builtin_registry())
    with reading(db) as conn:
        history = monthly_history(conn, first)
    names = sorted(skus) if skus is not None else sorted(history.months)
    names = [s for s in names if s in history.months]
    if not names:
        return None
    spans = [history.series(sku, first) for sku in names]
    series = [hist for _, hist in spans]
    with reading(db) as conn:
        found = signal_sources(conn)
    signals = demand_signals([(sku, history.families.get(sku)) for sku in names],
                             [start for start, _ in spans], [len(h) for h in series], horizon,
                             found)  # fmt: skip
    result = forecast_panel(series, horizon, 12, pool, top=top,
                            regressors=signals.regressors if signals else None)  # fmt: skip
    sources = {}
    for i, (sku, choice) in enumerate(zip(names, result.choices, strict=True)):
        uses = signals is not None and any(m.endswith(REGRESSOR_SUFFIX) for m in choice.members)
        sources[sku] = "+".join(["orders", *(signals.names[i] if uses and signals else [])])
    with db.begin() as conn:
        snap = conn.execute(_T_SNAP.insert().values(
            created_at=now, horizon=horizon, season=12, first_period=first,
            models=json.dumps(sorted(pool)), params=json.dumps({"top": top, "origins": 3}),
            source="orders",
        )).inserted_primary_key[0]  # fmt: skip
        for sku, hist, values, choice in zip(
            names, series, result.values, result.choices, strict=True
        ):
            scale = mase_scale(hist, 12)
            conn.execute(_T_SERIES.insert().values(
                snapshot_id=snap, sku=sku, kind=choice.kind, model=choice.model,
                params=json.dumps(choice.params, default=float),
                backtest_mase=_finite(choice.score), scale=_finite(scale),
                history_months=len(hist),
            ))  # fmt: skip
            conn.execute(_T_VALUE.insert(), [
                {"snapshot_id": snap, "sku": sku, "period_start": month_start(first, k),
                 "lag": k, "value": float(v), "model": choice.model}
                for k, v in enumerate(values)
            ])  # fmt: skip
            before = conn.execute(sa.select(_T_CHAMP.c.model, _T_CHAMP.c.changed_at,
                                            _T_CHAMP.c.updated_at)
                                  .where(_T_CHAMP.c.sku == sku)).first()  # fmt: skip
            since = now if before is None or before[0] != choice.model else (
                before[1] or before[2])  # fmt: skip
            conn.execute(_T_CHAMP.delete().where(_T_CHAMP.c.sku == sku))
            conn.execute(_T_CHAMP.insert().values(
                sku=sku, model=choice.model, backtest_mase=_finite(choice.score),
                challenger=choice.challenger, challenger_mase=_finite(choice.challenger_score),
                reason=choice.reason, snapshot_id=snap, updated_at=now, changed_at=since,
                scores=json.dumps({k: _finite(v) for k, v in sorted(choice.scores.items())}),
                sources=sources.get(sku, "orders"),
            ))  # fmt: skip
    return int(snap)


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def record_accuracy(
    db: sa.Engine, *, now: dt.datetime | None = None, threshold: float = DEFAULT_THRESHOLD,
    window: int = DEFAULT_WINDOW, emit: Emit | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Compare stored forecasts of finished months with actuals; raise accuracy events.

    Writes ``forecast_accuracy`` rows (SKU totals, segment ``*``, and per
    customer segment with the SKU forecast split by the segment's share of
    the 12 months before the snapshot). Then, per SKU, the lag-1 accuracy
    over the last ``window`` finished months is compared with ``threshold``;
    a SKU that drops below it emits ``forecast.accuracy_dropped``. Returns
    the events emitted (as payloads).
    """
    now = _now(now)
    current = month_start(now.date())
    with reading(db) as conn:
        history = monthly_history(conn, current)
        rows = conn.execute(
            sa.select(_T_VALUE, _T_SNAP.c.first_period, _T_SERIES.c.scale)
            .join(_T_SNAP, _T_SNAP.c.id == _T_VALUE.c.snapshot_id)
            .join(_T_SERIES, (_T_SERIES.c.snapshot_id == _T_VALUE.c.snapshot_id)
                  & (_T_SERIES.c.sku == _T_VALUE.c.sku))
            .where(_T_VALUE.c.period_start < current)
        ).mappings().all()  # fmt: skip
    records = []
    for row in rows:
        sku, period = row["sku"], _as_date(row["period_start"])
        actual = history.months.get(sku, {}).get(period, 0.0)
        base = {"snapshot_id": row["snapshot_id"], "sku": sku, "period_start": period,
                "family": history.families.get(sku), "lag": row["lag"], "scale": row["scale"],
                "computed_at": now}  # fmt: skip
        records.append({**base, "segment": "*", "forecast": row["value"], "actual": actual})
        shares = _segment_shares(history, sku, _as_date(row["first_period"]))
        for segment, share in shares.items():
            seg_actual = history.segments.get(sku, {}).get((period, segment), 0.0)
            records.append({**base, "segment": segment, "forecast": row["value"] * share,
                            "actual": seg_actual})  # fmt: skip
    with db.begin() as conn:
        conn.execute(_T_ACC.delete().where(_T_ACC.c.period_start < current))
        if records:
            conn.execute(_T_ACC.insert(), records)
    return _check_thresholds(db, now, current, threshold, window, emit)


def _segment_shares(history: MonthlyHistory, sku: str, first: dt.date) -> dict[str, float]:
    start = month_start(first, -12)
    totals: dict[str, float] = defaultdict(float)
    for (month, segment), qty in history.segments.get(sku, {}).items():
        if start <= month < first:
            totals[segment] += qty
    whole = sum(totals.values())
    return {s: q / whole for s, q in totals.items()} if whole > 0 else {}


def _check_thresholds(
    db: sa.Engine, now: dt.datetime, current: dt.date, threshold: float, window: int,
    emit: Emit | None,
) -> list[dict[str, Any]]:  # fmt: skip
    since = month_start(current, -window)
    events = []
    with db.begin() as conn:
        totals = conn.execute(
            sa.select(_T_ACC.c.sku, sa.func.sum(sa.func.abs(_T_ACC.c.forecast - _T_ACC.c.actual)),
                      sa.func.sum(sa.func.abs(_T_ACC.c.actual)))
            .where(_T_ACC.c.lag == 1, _T_ACC.c.segment == "*", _T_ACC.c.period_start >= since)
            .group_by(_T_ACC.c.sku)
        ).all()  # fmt: skip
        for sku, err, total in totals:
            if not total:
                continue
            acc = 1.0 - float(err) / float(total)
            below = acc < threshold
            was = conn.execute(
                sa.select(_T_CHAMP.c.below_threshold).where(_T_CHAMP.c.sku == sku)
            ).scalar()
            conn.execute(_T_CHAMP.update().where(_T_CHAMP.c.sku == sku)
                         .values(accuracy=acc, below_threshold=below))  # fmt: skip
            if below and not was:
                events.append({"sku": sku, "accuracy": round(acc, 4), "threshold": threshold})
    for payload in events:
        if emit is not None:
            emit("forecast.accuracy_dropped", payload)
    return events


def accuracy_report(
    db: sa.Engine, *, by: str = "sku", lag: int | None = 1,
    start: dt.date | None = None, end: dt.date | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """WAPE, accuracy, bias and MASE grouped by ``sku``, ``family``, ``segment`` or ``lag``."""
    if by not in {"sku", "family", "segment", "lag"}:
        raise ValueError("by must be sku, family, segment or lag")
    query = sa.select(_T_ACC)
    query = query.where(_T_ACC.c.segment != "*") if by == "segment" else query.where(
        _T_ACC.c.segment == "*")  # fmt: skip
    if lag is not None and by != "lag":
        query = query.where(_T_ACC.c.lag == lag)
    if start is not None:
        query = query.where(_T_ACC.c.period_start >= start)
    if end is not None:
        query = query.where(_T_ACC.c.period_start < end)
    groups: dict[Any, list[Any]] = defaultdict(list)
    with reading(db) as conn:
        for row in conn.execute(query).mappings():
            groups[row[by]].append(row)
    report = []
    for key, items in sorted(groups.items(), key=lambda kv: str(kv[0])):
        f = np.array([r["forecast"] for r in items])
        a = np.array([r["actual"] for r in items])
        total = float(np.abs(a).sum())
        wape_ = float(np.abs(f - a).sum() / total) if total else None
        scaled = [abs(r["forecast"] - r["actual"]) / r["scale"] for r in items
                  if r["scale"] and by != "segment"]  # fmt: skip
        report.append({
            by: key, "periods": len(items), "forecast": float(f.sum()), "actual": float(a.sum()),
            "wape": wape_, "accuracy": None if wape_ is None else 1.0 - wape_,
            "bias": float((f - a).sum() / a.sum()) if a.sum() else None,
            "mase": float(np.mean(scaled)) if scaled else None,
        })  # fmt: skip
    return report


class DailyForecast(list[float]):
    """Daily quantities of one SKU that say which forecast they come from (``source``)."""

    def __init__(self, values: Iterable[float], source: str) -> None:
        super().__init__(values)
        self.source = source


def daily_forecast(
    db: sa.Engine, skus: Iterable[str], start: dt.date, days: int
) -> dict[str, list[float]] | None:
    """Daily quantities of each SKU's live champion (month value spread over its days).

    The live forecast of a SKU is the snapshot its champion row names (the
    run that last forecast it), else the latest snapshot. Each list's
    ``source`` reads ``champion <model> (snapshot <id>)``.
    """
    skus = list(skus)
    try:
        with reading(db) as conn:
            champs = {
                sku: (snap, model)
                for sku, snap, model in conn.execute(
                    sa.select(_T_CHAMP.c.sku, _T_CHAMP.c.snapshot_id, _T_CHAMP.c.model).where(
                        _T_CHAMP.c.sku.in_(skus), _T_CHAMP.c.snapshot_id.is_not(None)
                    )
                )
            }
            latest = conn.execute(sa.select(sa.func.max(_T_SNAP.c.id))).scalar()
            if latest is None:
                return None
            wanted = {champs.get(sku, (latest, None))[0] for sku in skus}
            rows = conn.execute(
                sa.select(_T_VALUE.c.sku, _T_VALUE.c.snapshot_id, _T_VALUE.c.period_start,
                          _T_VALUE.c.value, _T_VALUE.c.model)
                .where(_T_VALUE.c.snapshot_id.in_(wanted), _T_VALUE.c.sku.in_(skus))
            ).all()  # fmt: skip
    except sa.exc.OperationalError:
        return None  # the forecast tables are not migrated in this database
    monthly: dict[str, dict[dt.date, float]] = defaultdict(dict)
    models: dict[str, tuple[int, str]] = {}
    for sku, snap, period, value, model in rows:
        if snap != champs.get(sku, (latest, None))[0]:
            continue
        monthly[sku][_as_date(period)] = float(value)
        models[sku] = (int(snap), str(champs.get(sku, (None, None))[1] or model))
    out: dict[str, list[float]] = {}
    for sku, by_month in monthly.items():
        daily = []
        for k in range(days):
            day = start + dt.timedelta(days=k)
            size = calendar.monthrange(day.year, day.month)[1]
            month = month_start(day)
            if month not in by_month:  # outside the snapshot: the nearest forecast month
                month = min(by_month, key=lambda m: abs((m - month).days))
            daily.append(by_month[month] / size)
        snap, model = models[sku]
        out[sku] = DailyForecast(daily, f"champion {model} (snapshot {snap})")
    return out or None
