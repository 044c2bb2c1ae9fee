"""Forecasts for intermittent demand: Croston (SBA) and TSB."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["classify", "croston_sba", "tsb"]

_GRID = np.array([0.05, 0.1, 0.2, 0.3])


def classify(y: np.ndarray) -> str:
    """``zero`` (no demand), ``intermittent`` (ADI above 1.32) or ``regular``."""
    y = np.asarray(y, dtype=float)
    nonzero = np.flatnonzero(y != 0)
    if len(nonzero) == 0:
        return "zero"
    if np.any(y < 0):
        return "regular"
    adi = len(y) / len(nonzero)
    return "intermittent" if adi > 1.32 else "regular"


def croston_sba(
    y: np.ndarray, horizon: int, season: int
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Croston's method with the Syntetos-Boylan bias correction (alpha 0.1)."""
    y = np.asarray(y, dtype=float)
    nonzero = np.flatnonzero(y > 0)
    if len(nonzero) == 0:
        return np.zeros(horizon), {"alpha": 0.1}
    alpha = 0.1
    size = y[nonzero[0]]
    interval = float(nonzero[0] + 1)
    last = nonzero[0]
    for t in nonzero[1:]:
        size += alpha * (y[t] - size)
        interval += alpha * ((t - last) - interval)
        last = t
    rate = (1 - alpha / 2) * size / interval
    return np.full(horizon, rate), {"alpha": alpha, "size": float(size), "interval": interval}


def tsb(y: np.ndarray, horizon: int, season: int) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Teunter-Syntetos-Babai: smoothed demand probability times smoothed size.

    The probability smoothing constant is chosen on one-step squared error.
    """
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return None
    occur = (y > 0).astype(float)
    if not occur.any():
        return np.zeros(horizon), {"alpha": 0.1, "beta": 0.0}
    alpha = 0.1
    prob = np.full(_GRID.shape, occur.mean())
    size = np.full(_GRID.shape, y[y > 0].mean())
    sse = np.zeros(_GRID.shape)
    for value, hit in zip(y, occur, strict=True):
        err = value - prob * size
        sse += err * err
        prob = prob + _GRID * (hit - prob)
        if hit:
            size = size + alpha * (value - size)
    i = int(np.argmin(sse))
    return np.full(horizon, prob[i] * size[i]), {"alpha": alpha, "beta": float(_GRID[i])}
