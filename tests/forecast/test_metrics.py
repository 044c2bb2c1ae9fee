"""Accuracy metrics on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from crmflow.plugins.forecast.metrics import accuracy, bias, mase, mase_scale, wape


def test_wape_accuracy_bias_by_hand() -> None:
    forecast, actual = [110, 90, 100], [100, 100, 80]
    # |10| + |10| + |20| = 40 over 280
    assert wape(forecast, actual) == pytest.approx(40 / 280)
    assert accuracy(forecast, actual) == pytest.approx(1 - 40 / 280)
    # (10 - 10 + 20) / 280
    assert bias(forecast, actual) == pytest.approx(20 / 280)


def test_mase_scaled_by_seasonal_naive() -> None:
    history = [1, 2, 3, 2, 3, 4]  # season 3: errors |2-1|, |3-2|, |4-3| -> scale 1
    assert mase_scale(history, 3) == pytest.approx(1.0)
    assert mase([5, 5], [4, 7], history, 3) == pytest.approx(1.5)


def test_mase_falls_back_to_naive_when_short() -> None:
    assert mase_scale([1, 3, 6], 12) == pytest.approx(2.5)


def test_zero_actuals_give_nan_not_error() -> None:
    assert math.isnan(wape([1, 2], [0, 0]))
    assert math.isnan(bias([1, 2], [0, 0]))
    assert math.isnan(mase([1], [1], [5, 5, 5], 1))


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        wape([1, 2], [1])
