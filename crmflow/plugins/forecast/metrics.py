"""Forecast accuracy measures: WAPE, accuracy, bias and MASE."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["accuracy", "bias", "mase", "mase_scale", "wape"]


def _arrays(forecast: Sequence[float], actual: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(forecast, dtype=float)
    a = np.asarray(actual, dtype=float)
    if f.shape != a.shape:
        raise ValueError(f"forecast has shape {f.shape} but actual has shape {a.shape}")
    return f, a


def wape(forecast: Sequence[float], actual: Sequence[float]) -> float:
    """Weighted absolute percentage error Σ|F−A| / Σ|A| (NaN when Σ|A| is 0)."""
    f, a = _arrays(forecast, actual)
    denom = float(np.abs(a).sum())
    return float(np.abs(f - a).sum() / denom) if denom > 0 else float("nan")


def accuracy(forecast: Sequence[float], actual: Sequence[float]) -> float:
    """Forecast accuracy 1 − WAPE (can be negative when errors exceed demand)."""
    return 1.0 - wape(forecast, actual)


def bias(forecast: Sequence[float], actual: Sequence[float]) -> float:
    """Σ(F−A) / ΣA: positive means over-forecasting (NaN when ΣA is 0)."""
    f, a = _arrays(forecast, actual)
    denom = float(a.sum())
    return float((f - a).sum() / denom) if denom != 0 else float("nan")


def mase_scale(history: Sequence[float], season: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (naive if too short).

    Returns NaN when the history is too short for any differencing.
    """
    y = np.asarray(history, dtype=float)
    m = season if season >= 1 and len(y) > season else 1
    if len(y) <= m:
        return float("nan")
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def mase(
    forecast: Sequence[float], actual: Sequence[float], history: Sequence[float], season: int
) -> float:
    """Mean absolute scaled error: MAE over the in-sample seasonal-naive MAE."""
    f, a = _arrays(forecast, actual)
    scale = mase_scale(history, season)
    if not np.isfinite(scale) or scale <= 0:
        return float("nan")
    return float(np.mean(np.abs(f - a)) / scale)
