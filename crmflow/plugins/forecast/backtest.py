"""Rolling-origin backtest of many models over a panel of series."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .protocol import Batch, ForecastModel, Forecasts, run_model

__all__ = ["Backtest", "min_train_length", "origins_for", "run_models", "rolling_backtest"]

Progress = Callable[[int], None]


def min_train_length(season: int) -> int:
    """Shortest history a backtest origin may leave for fitting: two cycles, at least 8."""
    return max(2 * max(season, 1), 8)


def origins_for(horizon: int, count: int) -> list[int]:
    """How many periods each origin holds back: ``h``, ``h + h/2``, ``h + 2·h/2`` …"""
    step = max(1, horizon // 2)
    return [horizon + k * step for k in range(count)]


def run_models(
    models: Mapping[str, ForecastModel], batch: Batch, progress: Progress | None = None
) -> dict[str, Forecasts]:
    """Run every model on ``batch``; combinations reuse their members' forecasts."""
    from .models import nanmean

    out: dict[str, Forecasts] = {}
    combos = {n: m for n, m in models.items() if getattr(m, "members", None)}
    for name, model in models.items():
        if name in combos:
            continue
        out[name] = run_model(model, batch)
        if progress:
            progress(1)
    for name, model in combos.items():
        members = list(getattr(model, "members", ()))
        if all(member in out for member in members):
            stack = np.stack([out[member].values for member in members])
            out[name] = Forecasts(nanmean(stack), [{"members": members} for _ in range(len(batch))])
        else:
            out[name] = run_model(model, batch)
        if progress:
            progress(1)
    return out


@dataclass
class Backtest:
    """Backtest forecasts and errors: ``forecasts[name]`` is (origins, series, h)."""

    cuts: list[int]
    forecasts: dict[str, np.ndarray]
    actuals: np.ndarray  # (origins, series, h), NaN where an origin was skipped
    scales: np.ndarray  # (origins, series)

    def mase(self, values: np.ndarray) -> np.ndarray:
        """Mean over usable origins of MASE per series for forecasts shaped like ``actuals``."""
        err = np.abs(values - self.actuals).mean(axis=2) / self.scales
        with np.errstate(invalid="ignore"):
            valid = ~np.isnan(self.actuals[:, :, 0])
            bad = valid & np.isnan(err)
            err = np.where(valid, err, 0.0)
            count = valid.sum(axis=0)
            score = np.where(count > 0, err.sum(axis=0) / np.maximum(count, 1), np.nan)
        # A model that declined a usable origin cannot be compared fairly.
        return np.where(bad.any(axis=0), np.inf, score)


def rolling_backtest(
    models: Mapping[str, ForecastModel],
    history: Sequence[np.ndarray],
    horizon: int,
    season: int,
    *,
    origins: int = 3,
    regressors: Sequence[np.ndarray | None] | None = None,
    progress: Progress | None = None,
) -> Backtest:
    """Refit every model at each origin on the history before it; score the next ``h``."""
    cuts = origins_for(horizon, origins)
    n_series = len(history)
    shape = (len(cuts), n_series, horizon)
    actuals = np.full(shape, np.nan)
    scales = np.full((len(cuts), n_series), np.nan)
    forecasts = {name: np.full(shape, np.nan) for name in models}
    shortest = min_train_length(season)
    for k, cut in enumerate(cuts):
        rows = [i for i, y in enumerate(history) if len(y) - cut >= shortest]
        if not rows:
            if progress:
                progress(len(models))
            continue
        train = [np.asarray(history[i], dtype=float)[: len(history[i]) - cut] for i in rows]
        xreg = None
        if regressors is not None:
            xreg = [
                None if regressors[i] is None else regressors[i][: len(t) + horizon]  # type: ignore[index]
                for i, t in zip(rows, train, strict=True)
            ]
        batch = Batch(train, horizon, season, xreg)
        out = run_models(models, batch, progress)
        for j, i in enumerate(rows):
            y = np.asarray(history[i], dtype=float)
            start = len(y) - cut
            actuals[k, i] = y[start : start + horizon]
            m = season if len(train[j]) > season >= 1 else 1
            scale = float(np.mean(np.abs(train[j][m:] - train[j][:-m])))
            level = float(np.mean(np.abs(train[j])))
            # A perfectly regular history has no naive error: scale by its level instead.
            scales[k, i] = scale if scale > 1e-9 * max(level, 1.0) else max(level, 1e-9)
            for name, fc in out.items():
                forecasts[name][k, i] = fc.values[j]
    return Backtest(cuts, forecasts, actuals, scales)
