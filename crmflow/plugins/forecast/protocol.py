"""The forecast-model protocol: a model maps a batch of histories to forecasts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Batch", "Forecasts", "ForecastModel", "local_model", "run_model"]


@dataclass(frozen=True)
class Batch:
    """What a model is given.

    ``history`` holds one float array per series, oldest first, equally spaced
    periods; ``season`` is the number of periods in a seasonal cycle (12 for
    monthly data, 1 for none). ``regressors``, when given, holds per series an
    array of shape ``(len(history[i]) + horizon, k)`` (past and future values)
    or ``None`` for a series without regressors.
    """

    history: Sequence[np.ndarray]
    horizon: int
    season: int
    regressors: Sequence[np.ndarray | None] | None = None

    def __len__(self) -> int:
        return len(self.history)


@dataclass
class Forecasts:
    """What a model returns: ``values`` of shape (series, horizon) and params per series.

    A row of NaN means the model declines that series (too short, wrong sign …);
    the selection then uses the other models.
    """

    values: np.ndarray
    params: list[dict[str, Any]] = field(default_factory=list)


@runtime_checkable
class ForecastModel(Protocol):
    """A forecast model is any callable ``model(batch) -> Forecasts | ndarray``.

    Optional attributes: ``members`` (names of the models a combination
    averages; the selection reuses their forecasts) and ``uses_regressors``.
    """

    def __call__(self, batch: Batch) -> Forecasts | np.ndarray: ...


def run_model(model: ForecastModel, batch: Batch) -> Forecasts:
    """Call ``model`` and normalise its answer to :class:`Forecasts` of the right shape."""
    out = model(batch)
    result = out if isinstance(out, Forecasts) else Forecasts(np.asarray(out, dtype=float))
    values = np.asarray(result.values, dtype=float).reshape(len(batch), batch.horizon)
    params = list(result.params) or [{} for _ in range(len(batch))]
    return Forecasts(values, params)


LocalFn = Callable[[np.ndarray, int, int], "tuple[np.ndarray, dict[str, Any]] | None"]


def local_model(fn: LocalFn) -> Callable[[Batch], Forecasts]:
    """Turn ``fn(y, horizon, season) -> (forecast, params) | None`` into a batch model."""

    def model(batch: Batch) -> Forecasts:
        values = np.full((len(batch), batch.horizon), np.nan)
        params: list[dict[str, Any]] = []
        for i, y in enumerate(batch.history):
            got = fn(np.asarray(y, dtype=float), batch.horizon, batch.season)
            if got is None:
                params.append({})
                continue
            values[i], p = got
            params.append(p)
        return Forecasts(values, params)

    model.__name__ = getattr(fn, "__name__", "model")
    model.__doc__ = fn.__doc__
    return model
