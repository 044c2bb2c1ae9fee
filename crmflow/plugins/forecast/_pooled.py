"""A global (pooled) linear model over level-normalised log windows of all series."""

from __future__ import annotations

from typing import Any

import numpy as np

from .protocol import Batch, Forecasts

__all__ = ["pooled_forecast", "window_length"]

_MAX_WINDOWS = 200_000
_RIDGE = 1.0


def window_length(season: int) -> int:
    """Input window: two seasonal cycles, at least eight periods."""
    return max(2 * season, 8)


def pooled_forecast(batch: Batch) -> Forecasts:
    """One ridge regression from the last ``L`` log values to the next ``h``, for all series.

    Each window is centred on the mean of its last cycle, so series of any
    scale share the coefficients. Series with a non-positive value or fewer
    than ``L`` periods are declined (NaN).
    """
    h, m = batch.horizon, max(batch.season, 1)
    width = window_length(m)
    tail = min(m, width)
    usable = [
        i
        for i, y in enumerate(batch.history)
        if len(y) >= width and bool(np.all(np.asarray(y) > 0))
    ]
    values = np.full((len(batch), h), np.nan)
    params: list[dict[str, Any]] = [{} for _ in range(len(batch))]
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for i in usable:
        z = np.log(np.asarray(batch.history[i], dtype=float))
        count = len(z) - width - h + 1
        if count <= 0:
            continue
        idx = np.arange(count)[:, None]
        win = z[idx + np.arange(width)]
        fut = z[idx + width + np.arange(h)]
        centre = win[:, -tail:].mean(axis=1, keepdims=True)
        xs.append(win - centre)
        ys.append(fut - centre)
    if not xs:
        return Forecasts(values, params)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    if len(x) > _MAX_WINDOWS:
        keep = np.linspace(0, len(x) - 1, _MAX_WINDOWS).astype(int)
        x, y = x[keep], y[keep]
    design = np.c_[x, np.ones(len(x))]
    penalty = _RIDGE * np.eye(width + 1)
    penalty[-1, -1] = 0.0
    coef = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    for i in usable:
        z = np.log(np.asarray(batch.history[i], dtype=float))[-width:]
        centre = z[-tail:].mean()
        values[i] = np.exp(np.r_[z - centre, 1.0] @ coef + centre)
        params[i] = {"window": width, "windows": int(len(x))}
    return Forecasts(values, params)
