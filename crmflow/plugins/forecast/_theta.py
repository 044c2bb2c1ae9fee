"""Theta method with a classical multiplicative seasonal adjustment."""

from __future__ import annotations

import numpy as np

__all__ = ["is_seasonal", "seasonal_indices", "ses", "theta_forecast"]

_SES_ALPHAS = np.linspace(0.01, 0.99, 50)


def is_seasonal(y: np.ndarray, m: int) -> bool:
    """Autocorrelation test at lag ``m`` (90 %), as the M3 Theta method does."""
    n = len(y)
    if m <= 1 or n < 3 * m:
        return False
    x = y - y.mean()
    denom = float((x * x).sum())
    if denom <= 0:
        return False
    acf = np.array([(x[k:] * x[:-k]).sum() / denom for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / n)
    return bool(abs(acf[-1]) > limit)


def seasonal_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Multiplicative seasonal indices of a classical decomposition (mean 1)."""
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")
    offset = (len(weights) - 1) // 2
    ratio = y[offset : offset + len(trend)] / trend
    phase = (np.arange(len(trend)) + offset) % m
    idx = np.array([ratio[phase == j].mean() for j in range(m)])
    return idx / idx.mean()


def ses(x: np.ndarray) -> tuple[float, float]:
    """Simple exponential smoothing by grid search: final level and alpha."""
    level = np.full(_SES_ALPHAS.shape, x[0])
    sse = np.zeros(_SES_ALPHAS.shape)
    for value in x[1:]:
        err = value - level
        sse += err * err
        level = level + _SES_ALPHAS * err
    i = int(np.argmin(sse))
    return float(level[i]), float(_SES_ALPHAS[i])


def theta_forecast(y: np.ndarray, horizon: int, m: int) -> tuple[np.ndarray, dict[str, float]]:
    """The standard Theta method (SES with drift of half the linear trend)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    seasonal = bool(np.all(y > 0)) and is_seasonal(y, m)
    if seasonal:
        idx = seasonal_indices(y, m)
        x = y / idx[np.arange(n) % m]
    else:
        x = y
    level, alpha = ses(x)
    slope = float(np.polyfit(np.arange(n), x, 1)[0]) / 2 if n > 1 else 0.0
    f = level + slope * (np.arange(horizon) + (1 - (1 - alpha) ** n) / alpha)
    if seasonal:
        f = f * idx[(n + np.arange(horizon)) % m]
    return f, {"alpha": alpha, "drift": slope, "seasonal": float(seasonal)}
