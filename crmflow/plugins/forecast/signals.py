"""Demand signals from the database as forecast regressors: pipeline, market, feedback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from crmflow.core.domain.signal_records import CustomerFeedback, MarketIndicator, Opportunity

from .periods import month_start
from .regressors import RegressorSource, build_regressors

__all__ = ["SeriesSignals", "demand_signals", "signal_sources"]

_OPP = Opportunity.__table__  # type: ignore[attr-defined]
_MARKET = MarketIndicator.__table__  # type: ignore[attr-defined]
_FEEDBACK = CustomerFeedback.__table__  # type: ignore[attr-defined]
#: feedback signal -> sign of its effect on demand
_SIGN = {"up": 1.0, "new": 1.0, "down": -1.0, "lost": -1.0}
#: pipeline stages that no longer bring demand
_CLOSED = ("lost", "closed_lost", "cancelled")


def _period(day: Any) -> str:
    value = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
    return month_start(value).isoformat()


def _key(sku: str | None, family: str | None) -> str:
    return f"series_id:{sku}" if sku else f"family:{family}" if family else "*"


def signal_sources(conn: sa.Connection) -> list[RegressorSource]:
    """The regressors the stored signals give, by month: one per kind, one per indicator.

    ``pipeline``: open opportunities' quantity × probability in the month
    they are expected (lost ones left out); ``market:<name>``: an
    indicator's monthly mean; ``feedback``: customers' signals in the month
    given, up/new counting + and down/lost − (their quantity, else 1).
    None of them without the signal tables.
    """
    sources: list[RegressorSource] = []
    if not sa.inspect(conn).has_table(_OPP.name):
        return sources  # a database without the signal tables (the service on its own)
    pipeline: dict[tuple[str, str], float] = {}
    for sku, family, qty, day, prob in conn.execute(
        sa.select(_OPP.c.sku, _OPP.c.family, _OPP.c.quantity, _OPP.c.expected_date,
                  _OPP.c.probability).where(_OPP.c.stage.not_in(_CLOSED))
    ):  # fmt: skip
        key = (_key(sku, family), _period(day))
        pipeline[key] = pipeline.get(key, 0.0) + float(qty) * float(prob)
    if pipeline:
        sources.append(RegressorSource("pipeline", "pipeline", pipeline))
    market: dict[str, dict[str, list[float]]] = {}
    for name, day, value in conn.execute(sa.select(_MARKET.c.name, _MARKET.c.date,
                                                   _MARKET.c.value)):  # fmt: skip
        market.setdefault(name, {}).setdefault(_period(day), []).append(float(value))
    for name, months in sorted(market.items()):
        values = {("*", p): float(np.mean(v)) for p, v in months.items()}
        sources.append(RegressorSource(f"market:{name}", "market", values))
    feedback: dict[tuple[str, str], float] = {}
    for sku, family, signal, qty, day in conn.execute(
        sa.select(_FEEDBACK.c.sku, _FEEDBACK.c.family, _FEEDBACK.c.signal,
                  _FEEDBACK.c.quantity, _FEEDBACK.c.date)
    ):  # fmt: skip
        key = (_key(sku or None, family or None), _period(day))
        amount = float(qty) if qty is not None else 1.0
        feedback[key] = feedback.get(key, 0.0) + _SIGN.get(signal, 0.0) * amount
    if feedback:
        sources.append(RegressorSource("feedback", "feedback", feedback))
    return sources


@dataclass
class SeriesSignals:
    """Per series: its regressor matrix (None: no signal covers it) and the sources in it."""

    regressors: list[np.ndarray | None]
    names: list[list[str]]


def demand_signals(
    series: Sequence[tuple[str, str | None]], starts: Sequence[dt.date],
    lengths: Sequence[int], horizon: int, sources: Sequence[RegressorSource],
) -> SeriesSignals | None:  # fmt: skip
    """Regressors for each (sku, family) over its history months plus ``horizon``.

    A source counts for a series only where it has values that vary over
    the history (see :func:`build_regressors`). None when no source covers any.
    """
    if not sources:
        return None
    periods = [[month_start(first, k).isoformat() for k in range(n + horizon)]
               for first, n in zip(starts, lengths, strict=True)]  # fmt: skip
    names: list[list[str]] = [[] for _ in series]
    for source in sources:
        got = build_regressors(series, periods, [source]) or []
        for i, matrix in enumerate(got):
            if matrix is not None:
                names[i].append(source.name)
    if not any(names):
        return None
    return SeriesSignals(build_regressors(series, periods, sources) or [], names)
