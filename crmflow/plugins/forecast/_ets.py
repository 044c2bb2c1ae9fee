"""Exponential smoothing fitted by a vectorised grid search (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["EtsFit", "clear_cache", "fit_ets", "predict_ets"]

_ALPHAS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.95)
_BETAS = (0.0, 0.01, 0.03, 0.08, 0.15)
_GAMMAS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35)
_PHIS = (0.8, 0.9, 0.95, 0.98, 1.0)


@dataclass(frozen=True)
class EtsFit:
    """The fitted states and smoothing parameters of one additive ETS model."""

    level: float
    trend: float
    season: tuple[float, ...]
    alpha: float
    beta: float
    gamma: float
    phi: float
    has_trend: bool
    has_season: bool
    n: int
    log: bool

    def params(self) -> dict[str, float | bool]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "phi": self.phi,
            "trend": self.has_trend,
            "season": self.has_season,
            "log": self.log,
        }


def _grid() -> np.ndarray:
    rows = []
    for trend in (0, 1):
        for seas in (0, 1):
            for a in _ALPHAS:
                for b in _BETAS if trend else (0.0,):
                    for g in _GAMMAS if seas else (0.0,):
                        for p in _PHIS if trend else (0.0,):
                            if b <= a and g <= 1 - a:
                                rows.append((trend, seas, a, b, g, p))
    return np.array(rows, dtype=float).T


_GRID = _grid()


def _initial_states(
    z: np.ndarray, m: int, seasonal: bool
) -> tuple[float, float, float, np.ndarray]:
    """Level for trended models, level without trend, trend and seasonal indices."""
    first = z[:m].mean()
    if not seasonal:
        k = min(len(z) - 1, max(m, 3))
        slope = (z[k] - z[0]) / k if k > 0 else 0.0
        return float(z[0] - slope), float(z[0]), float(slope), np.zeros(m)
    second = z[m : 2 * m].mean()
    slope = (second - first) / m
    season = z[:m] - (first + slope * (np.arange(m) - (m - 1) / 2))
    season -= season.mean()
    return float(first - slope * (m + 1) / 2), float(first), float(slope), season


def _run_grid(
    z: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Filter every grid row through ``z``; return SSE, final level, trend and seasons."""
    n = len(z)
    seasonal = m > 1 and n >= 2 * m
    has_t, has_s, a, b, g, p = _GRID
    keep = np.ones(a.shape, bool) if seasonal else has_s == 0
    has_t, has_s, a, b, g, p = (x[keep] for x in (has_t, has_s, a, b, g, p))
    level_t, level_n, slope, season0 = _initial_states(z, m, seasonal)
    level = np.where(has_t == 1, level_t, level_n)
    trend = has_t * slope
    seasons = has_s[:, None] * season0[None, :]
    sse = np.zeros(a.shape)
    for t in range(n):
        j = t % m
        damped = p * trend
        err = z[t] - (level + damped + seasons[:, j])
        sse += err * err
        level = level + damped + a * err
        trend = damped + b * err
        seasons[:, j] += g * err
    return sse, level, trend, seasons, (has_t, has_s, a, b, g, p)


def _pick(z: np.ndarray, m: int, log: bool) -> tuple[EtsFit, EtsFit]:
    """Filter the whole grid once; return the AICc choice and the damped Holt-Winters."""
    n = len(z)
    sse, level, trend, seasons, (has_t, has_s, a, b, g, p) = _run_grid(z, m)
    # Automatic ETS: trend and season only when the AICc pays for them.
    npar = 2 + 3 * has_t + has_s * m
    aicc = n * np.log(np.maximum(sse, 1e-300) / n) + 2 * npar
    aicc += 2 * npar * (npar + 1) / np.maximum(n - npar - 1, 1)
    # Holt-Winters: trend and season (when the history allows one), by in-sample SSE.
    wanted = (has_t == 1) & ((has_s == 1) | (has_s.max() == 0))
    fits = []
    for i in (int(np.argmin(aicc)), int(np.argmin(np.where(wanted, sse, np.inf)))):
        fits.append(
            EtsFit(
                level=float(level[i]),
                trend=float(trend[i]),
                season=tuple(seasons[i].tolist()),
                alpha=float(a[i]),
                beta=float(b[i]),
                gamma=float(g[i]),
                phi=float(p[i]) if has_t[i] else 0.0,
                has_trend=bool(has_t[i]),
                has_season=bool(has_s[i]),
                n=n,
                log=log,
            )
        )
    return fits[0], fits[1]


@lru_cache(maxsize=4096)
def _fit_cached(data: bytes, m: int, log: bool) -> tuple[EtsFit, EtsFit]:
    return _pick(np.frombuffer(data, dtype=float), m, log)


def clear_cache() -> None:
    """Forget cached fits (each fit is cached by its data so both ETS models share it)."""
    _fit_cached.cache_clear()


def fit_ets(y: np.ndarray, m: int, *, damped_seasonal: bool = False) -> EtsFit:
    """Fit additive ETS to ``y`` (to ``log y`` when all values are positive).

    ``damped_seasonal`` gives the damped-trend Holt-Winters member of the
    grid instead of the AICc choice.
    """
    y = np.asarray(y, dtype=float)
    log = bool(np.all(y > 0))
    z = np.log(y) if log else y
    auto, holt = _fit_cached(np.ascontiguousarray(z).tobytes(), max(int(m), 1), log)
    return holt if damped_seasonal else auto


def predict_ets(fit: EtsFit, horizon: int) -> np.ndarray:
    """Point forecasts for ``horizon`` periods after the fitted history."""
    steps = np.arange(1, horizon + 1)
    if fit.phi == 1.0:
        damp = steps.astype(float)
    else:
        damp = np.cumsum(fit.phi**steps)
    season = np.asarray(fit.season)
    seas = season[(fit.n + np.arange(horizon)) % len(season)]
    z = fit.level + damp * fit.trend + seas
    return np.exp(z) if fit.log else z
