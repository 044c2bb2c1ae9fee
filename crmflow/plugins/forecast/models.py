"""The built-in forecast models, each a batch callable (see :mod:`.protocol`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from crmflow.errors import ConfigError

from ._ets import fit_ets, predict_ets
from ._intermittent import croston_sba, tsb
from ._pooled import pooled_forecast
from ._theta import theta_forecast
from .protocol import Batch, Forecasts, local_model, run_model

__all__ = ["BUILTIN_MODELS", "Combination", "DEFAULT_COMBINATION", "arima", "nanmean"]


def _seasonal_naive(y: np.ndarray, h: int, m: int) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Each period repeats the value one season earlier."""
    m = max(m, 1)
    if len(y) < m:
        return None
    return y[len(y) - m + np.arange(h) % m].copy(), {"season": m}


def _naive(y: np.ndarray, h: int, m: int) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Every period repeats the last value."""
    if len(y) == 0:
        return None
    return np.full(h, y[-1]), {}


def _ets(y: np.ndarray, h: int, m: int) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Exponential smoothing; trend (damped) and season chosen by AICc."""
    if len(y) < 4:
        return None
    fit = fit_ets(y, m)
    return predict_ets(fit, h), fit.params()


def _holt_winters(y: np.ndarray, h: int, m: int) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Damped-trend Holt-Winters (multiplicative through logs for positive series)."""
    if len(y) < 4:
        return None
    fit = fit_ets(y, m, damped_seasonal=True)
    return predict_ets(fit, h), fit.params()


def _theta(y: np.ndarray, h: int, m: int) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The Theta method on seasonally adjusted data."""
    if len(y) < 3:
        return None
    return theta_forecast(y, h, m)


class Combination:
    """The mean of its member models' forecasts (members that decline are skipped)."""

    def __init__(self, *members: str) -> None:
        self.members = members

    def __call__(self, batch: Batch) -> Forecasts:
        stack = np.stack(
            [run_model(BUILTIN_MODELS[name][0], batch).values for name in self.members]
        )
        return Forecasts(
            nanmean(stack), [{"members": list(self.members)} for _ in range(len(batch))]
        )


def nanmean(stack: np.ndarray) -> np.ndarray:
    """Mean over the first axis ignoring NaN; NaN where every value is NaN."""
    count = np.sum(~np.isnan(stack), axis=0)
    total = np.nansum(stack, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def arima(batch: Batch) -> Forecasts:
    """AutoARIMA from statsforecast (opt-in: install ``statsforecast``)."""
    try:
        from statsforecast.models import AutoARIMA
    except ImportError as exc:
        raise ConfigError(
            "forecast model 'arima' needs statsforecast: pip install statsforecast "
            "(or remove 'arima' from the forecast plugin's models in the factory config)"
        ) from exc
    values = np.full((len(batch), batch.horizon), np.nan)
    for i, y in enumerate(batch.history):
        y = np.asarray(y, dtype=float)
        if len(y) < 2 * max(batch.season, 1) + 2:
            continue
        fitted = AutoARIMA(season_length=max(batch.season, 1)).fit(y)
        values[i] = fitted.predict(h=batch.horizon)["mean"]
    return Forecasts(values, [{} for _ in range(len(batch))])


DEFAULT_COMBINATION = ("ets", "holt_winters", "theta", "pooled")


def _intermittent(model: Any) -> Any:
    model.intermittent = True
    return model


#: name -> (model, description, opt_in)
BUILTIN_MODELS: dict[str, tuple[Any, str, bool]] = {
    "seasonal_naive": (local_model(_seasonal_naive), "repeat last season (benchmark)", True),
    "naive": (local_model(_naive), "repeat last value (benchmark)", True),
    "ets": (local_model(_ets), "exponential smoothing, AICc-selected (log scale)", False),
    "holt_winters": (local_model(_holt_winters), "damped Holt-Winters (log scale)", False),
    "theta": (local_model(_theta), "Theta method, seasonally adjusted", False),
    "pooled": (pooled_forecast, "global ridge model over all series' log windows", False),
    "combination": (
        Combination(*DEFAULT_COMBINATION),
        "mean of ets, holt_winters, theta, pooled",
        False,
    ),
    "croston": (
        _intermittent(local_model(croston_sba)),
        "Croston SBA for intermittent demand",
        False,
    ),
    "tsb": (_intermittent(local_model(tsb)), "TSB for intermittent demand", False),
    "arima": (arima, "AutoARIMA via statsforecast (slow)", True),
}
