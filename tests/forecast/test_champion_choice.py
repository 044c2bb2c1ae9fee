"""The champion is the combination or a single model, whichever backtests better per series."""

from __future__ import annotations

import numpy as np

from crmflow.plugins.forecast.protocol import local_model
from crmflow.plugins.forecast.selection import forecast_panel

MONTHS = np.arange(48)
LEVEL = 100 + 20 * np.sin(2 * np.pi * MONTHS / 12) + 0.5 * MONTHS


def _seasonal(y: np.ndarray, h: int, m: int):  # type: ignore[no-untyped-def]
    """Repeat last season plus the drift: exact on LEVEL but for the drift's curvature."""
    return y[len(y) - m + np.arange(h) % m] + 0.5 * m, {}


def _offset(delta: float):  # type: ignore[no-untyped-def]
    def fn(y: np.ndarray, h: int, m: int):  # type: ignore[no-untyped-def]
        return y[len(y) - m + np.arange(h) % m] + 0.5 * m + delta, {}

    return local_model(fn)


def test_a_single_model_wins_when_the_mean_backtests_worse() -> None:
    pool = {"good": local_model(_seasonal), "high": _offset(30.0), "higher": _offset(45.0)}
    panel = forecast_panel([LEVEL], 6, 12, pool, top=3)
    choice = panel.choices[0]
    assert choice.members == ("good",)
    assert choice.challenger == "mean(good, high, higher)"
    assert choice.score < choice.challenger_score
    assert "good alone beats the mean of the best 3" in choice.reason
    expected = LEVEL[-12:][:6] + 6.0
    assert np.allclose(panel.values[0], expected)


def test_the_mean_wins_when_its_errors_cancel() -> None:
    pool = {"low": _offset(-20.0), "high": _offset(20.0), "far": _offset(60.0)}
    panel = forecast_panel([LEVEL], 6, 12, pool, top=2)
    choice = panel.choices[0]
    assert choice.members == ("high", "low") or choice.members == ("low", "high")
    assert choice.challenger in {"low", "high"}
    assert choice.score < choice.challenger_score
    assert "the mean of the best 2 beats each model alone" in choice.reason
    assert np.allclose(panel.values[0], LEVEL[-12:][:6] + 6.0)
