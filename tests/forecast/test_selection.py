"""Model selection on synthetic series with known structure."""

from __future__ import annotations

import numpy as np
import pytest

from crmflow.plugins.forecast.registry import builtin_registry, model_pool
from crmflow.plugins.forecast.selection import forecast_panel

POOL = model_pool(builtin_registry())
RNG = np.random.default_rng(7)
MONTHS = np.arange(72)
SEASONAL = 100 + 30 * np.sin(2 * np.pi * MONTHS / 12)
TREND = 50 + 2.0 * MONTHS + RNG.normal(0, 1, 72)
CONSTANT = np.full(60, 40.0)
INTERMITTENT = np.where(np.arange(60) % 4 == 0, 8.0, 0.0)
ZERO = np.zeros(36)


@pytest.fixture(scope="module")
def panel():  # type: ignore[no-untyped-def]
    series = [SEASONAL, TREND, CONSTANT, INTERMITTENT, ZERO, np.array([5.0, 6.0, 7.0])]
    return forecast_panel(series, 12, 12, POOL)


def test_pure_seasonal_is_repeated(panel) -> None:  # type: ignore[no-untyped-def]
    expected = 100 + 30 * np.sin(2 * np.pi * np.arange(72, 84) / 12)
    assert np.abs(panel.values[0] - expected).max() < 1.0
    assert panel.choices[0].kind == "regular"
    assert panel.choices[0].score < 0.2


def test_trend_is_continued(panel) -> None:  # type: ignore[no-untyped-def]
    expected = 50 + 2.0 * np.arange(72, 84)
    assert np.abs(panel.values[1] - expected).mean() < 6.0
    assert panel.values[1][-1] > panel.values[1][0]


def test_constant_stays_constant(panel) -> None:  # type: ignore[no-untyped-def]
    assert np.allclose(panel.values[2], 40.0, atol=1e-6)


def test_intermittent_uses_an_intermittent_model(panel) -> None:  # type: ignore[no-untyped-def]
    choice = panel.choices[3]
    assert choice.kind == "intermittent"
    assert choice.members[0] in {"croston", "tsb"}
    assert np.allclose(panel.values[3], panel.values[3][0])
    assert 1.0 < panel.values[3][0] < 3.0  # 8 every 4th month -> about 2 a month


def test_all_zero_gives_zero(panel) -> None:  # type: ignore[no-untyped-def]
    assert panel.choices[4].kind == "zero"
    assert np.all(panel.values[4] == 0)


def test_short_series_falls_back(panel) -> None:  # type: ignore[no-untyped-def]
    assert panel.choices[5].kind == "short"
    assert np.all(np.isfinite(panel.values[5]))


def test_demand_is_never_negative() -> None:
    falling = np.maximum(200 - 6.0 * np.arange(40), 1.0)
    out = forecast_panel([falling, np.r_[falling[:30], np.zeros(10)]], 24, 12, POOL)
    assert np.all(out.values >= 0)


def test_champion_has_a_challenger_and_reason(panel) -> None:  # type: ignore[no-untyped-def]
    choice = panel.choices[1]
    assert choice.challenger and "rolling-origin MASE over 3 origins" in choice.reason
    assert set(choice.members) <= set(choice.scores)
    assert choice.challenger in choice.scores and choice.challenger_score >= choice.score


def test_regressor_used_only_when_it_helps() -> None:
    n, h = 60, 6
    driver = RNG.normal(0, 1, n + h)
    demand = 100 * np.exp(0.3 * driver[:n])
    noise = RNG.normal(0, 1, n + h)
    both = forecast_panel([demand, demand], h, 1, POOL,
                          regressors=[driver[:, None], noise[:, None]])  # fmt: skip
    assert any(m.endswith("+regressors") for m in both.choices[0].members)
    expected = 100 * np.exp(0.3 * driver[n:])
    assert np.abs(both.values[0] - expected).mean() < np.abs(both.values[1] - expected).mean()


def test_leading_zeros_before_launch_are_not_history() -> None:
    launched = np.r_[np.zeros(24), 50 + RNG.normal(0, 2, 30)]
    out = forecast_panel([launched], 6, 12, POOL)
    assert out.choices[0].kind == "regular"
    assert np.all(np.abs(out.values[0] - 50) < 8)
