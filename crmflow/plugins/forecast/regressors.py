"""Optional regressors (market index, open pipeline, customer feedback) per SKU or family."""

from __future__ import annotations

import csv
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crmflow.errors import InputError

from .protocol import Batch, ForecastModel, Forecasts, run_model

__all__ = [
    "REGRESSOR_SUFFIX",
    "RegressorSource",
    "WithRegressors",
    "build_regressors",
    "read_regressor_csv",
    "with_regressors",
]

REGRESSOR_SUFFIX = "+regressors"
_RIDGE = 1e-6


class WithRegressors:
    """``base`` fitted on demand net of a linear regressor effect, which is added back.

    The effect is estimated on seasonal differences (first differences for
    short series), so a shared trend is not mistaken for an effect. Positive
    series are modelled on the log scale (multiplicative effect). A series
    without regressors is declined.
    """

    uses_regressors = True

    def __init__(self, base: ForecastModel) -> None:
        self.base = base

    def __call__(self, batch: Batch) -> Forecasts:
        h, n_series = batch.horizon, len(batch)
        values = np.full((n_series, h), np.nan)
        params: list[dict[str, Any]] = [{} for _ in range(n_series)]
        rows, adjusted, future, logs = [], [], [], []
        for i, y in enumerate(batch.history):
            x = None if batch.regressors is None else batch.regressors[i]
            y = np.asarray(y, dtype=float)
            if x is None or len(x) != len(y) + h or len(y) < 6:
                continue
            log = bool(np.all(y > 0))
            z = np.log(y) if log else y
            past, fut = np.asarray(x[: len(y)], float), np.asarray(x[len(y) :], float)
            lag = batch.season if len(y) > batch.season + past.shape[1] + 4 else 1
            dz, dx = z[lag:] - z[:-lag], past[lag:] - past[:-lag]
            gram = dx.T @ dx + _RIDGE * np.eye(dx.shape[1])
            beta = np.linalg.solve(gram, dx.T @ dz)
            adj = z - past @ beta
            rows.append(i)
            adjusted.append(np.exp(adj) if log else adj)
            future.append(fut @ beta)
            logs.append(log)
            params[i] = {"beta": [float(b) for b in beta]}
        if rows:
            base = run_model(self.base, Batch(adjusted, h, batch.season))
            for j, i in enumerate(rows):
                fc = base.values[j]
                values[i] = fc * np.exp(future[j]) if logs[j] else fc + future[j]
                params[i] = {**base.params[j], **params[i]}
        return Forecasts(values, params)


def with_regressors(model: ForecastModel) -> WithRegressors:
    """Wrap ``model`` so it uses the batch's regressors."""
    return WithRegressors(model)


@dataclass(frozen=True)
class RegressorSource:
    """One regressor: values by (key, period); key is a series id or a family.

    ``kind`` is ``market`` (index level, log-transformed when positive),
    ``pipeline`` (expected quantity = quoted × win probability, log1p) or
    ``feedback`` (a signal used as given). A missing period counts as 0 for
    pipeline and feedback; a market index carries its last known value.
    """

    name: str
    kind: str
    values: Mapping[tuple[str, Hashable], float]


def read_regressor_csv(path: str | Path, kind: str) -> RegressorSource:
    """Read a regressor CSV: ``period`` plus ``series_id`` or ``family`` (or neither: all).

    ``market`` and ``feedback`` files have a ``value`` column; a ``pipeline``
    file has ``quantity`` and ``probability`` (0–1) per open quote, summed per
    key and period.
    """
    path = Path(path)
    need = ["quantity", "probability"] if kind == "pipeline" else ["value"]
    values: dict[tuple[str, Hashable], float] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        for column in ["period", *need]:
            if column not in fields:
                raise InputError(
                    f"missing column {column!r} in {kind} file", file=str(path), line=1
                )
        key_col = "series_id" if "series_id" in fields else "family" if "family" in fields else None
        for line, row in enumerate(reader, start=2):
            key = f"{key_col}:{row[key_col]}" if key_col else "*"
            try:
                if kind == "pipeline":
                    qty, prob = float(row["quantity"]), float(row["probability"])
                    if not 0.0 <= prob <= 1.0:
                        raise ValueError("probability must be between 0 and 1")
                    number = qty * prob
                else:
                    number = float(row["value"])
            except (TypeError, ValueError) as exc:
                raise InputError(f"bad number ({exc})", file=str(path), line=line) from exc
            period = row["period"].strip()
            values[(key, period)] = (
                values.get((key, period), 0.0) + number if kind == "pipeline" else number
            )
    return RegressorSource(path.stem, kind, values)


def _column(
    source: RegressorSource, keys: Sequence[str], periods: Sequence[Hashable]
) -> np.ndarray | None:
    for key in keys:
        got = [source.values.get((key, str(p))) for p in periods]
        if any(v is not None for v in got):
            break
    else:
        return None
    if source.kind == "market":
        # An index level persists: carry the last known value (the first one backwards).
        out = np.empty(len(periods))
        last = next(v for v in got if v is not None)
        for t, v in enumerate(got):
            last = v if v is not None else last
            out[t] = last
    else:
        out = np.array([0.0 if v is None else v for v in got])
    if source.kind == "market" and np.all(out > 0):
        return np.log(out)
    if source.kind == "pipeline":
        return np.log1p(np.maximum(out, 0.0))
    return out


def build_regressors(
    series: Sequence[tuple[str, str | None]],
    periods: Sequence[Sequence[Hashable]],
    sources: Sequence[RegressorSource],
) -> list[np.ndarray | None] | None:
    """One matrix (periods × sources) per series, or None for a series no source covers.

    ``series`` holds (series id, family or None); ``periods`` the history plus
    horizon periods of each series. A source covers a series through its id,
    else its family, else a file-wide (``*``) value.
    """
    if not sources:
        return None
    out: list[np.ndarray | None] = []
    for (sid, family), pers in zip(series, periods, strict=True):
        keys = [f"series_id:{sid}"] + ([f"family:{family}"] if family else []) + ["*"]
        cols = [c for c in (_column(s, keys, pers) for s in sources) if c is not None]
        cols = [c for c in cols if np.ptp(c[: max(len(c) - 1, 1)]) > 0]
        out.append(np.column_stack(cols) if cols else None)
    return out
