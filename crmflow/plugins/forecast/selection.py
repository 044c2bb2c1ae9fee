"""Per-series model selection by rolling-origin backtest, with fallbacks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._intermittent import classify
from .backtest import rolling_backtest, run_models
from .models import DEFAULT_COMBINATION, nanmean
from .protocol import Batch, ForecastModel
from .regressors import REGRESSOR_SUFFIX, with_regressors

__all__ = ["PanelForecast", "SeriesChoice", "forecast_panel"]

Progress = Callable[[int, int], None]


@dataclass
class SeriesChoice:
    """The champion of one series, its challenger and why."""

    kind: str  # regular, intermittent, zero or short
    members: tuple[str, ...]
    score: float = float("nan")  # backtest MASE of the champion
    scores: dict[str, float] = field(default_factory=dict)  # backtest MASE per candidate
    challenger: str | None = None
    challenger_score: float = float("nan")
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """Display name: the model, or ``mean(a, b, c)`` for a selected combination."""
        if len(self.members) == 1:
            return self.members[0]
        return "mean(" + ", ".join(self.members) + ")"


@dataclass
class PanelForecast:
    """Forecasts (series × horizon) and the choice made for each series."""

    values: np.ndarray
    choices: list[SeriesChoice]


def _split_models(
    models: Mapping[str, ForecastModel],
) -> tuple[dict[str, ForecastModel], dict[str, ForecastModel]]:
    regular = {n: m for n, m in models.items() if not getattr(m, "intermittent", False)}
    sparse = {n: m for n, m in models.items() if getattr(m, "intermittent", False)}
    return regular, sparse


def _fmt(value: float) -> str:
    return f"{value:.3f}" if np.isfinite(value) else "n/a"


def _choose(
    idx: list[int],
    models: Mapping[str, ForecastModel],
    history: Sequence[np.ndarray],
    horizon: int,
    season: int,
    regressors: Sequence[np.ndarray | None] | None,
    top: int,
    origins: int,
    kind: str,
    tick: Callable[[int], None],
) -> tuple[np.ndarray, list[SeriesChoice]]:
    """Backtest ``models`` on the series ``idx`` and combine the ``top`` best of each."""
    hist = [np.asarray(history[i], dtype=float) for i in idx]
    xreg = None if regressors is None else [regressors[i] for i in idx]
    batch = Batch(hist, horizon, season, xreg)
    final = run_models(models, batch, tick)
    bt = rolling_backtest(
        models, hist, horizon, season, origins=origins, regressors=xreg, progress=tick
    )
    names = list(models)
    scores = np.stack([bt.mase(bt.forecasts[name]) for name in names])  # (models, series)
    for row, name in enumerate(names):
        scores[row, np.isnan(final[name].values).any(axis=1)] = np.inf
        if name.endswith(REGRESSOR_SUFFIX):
            base = name[: -len(REGRESSOR_SUFFIX)]
            if base in models:
                # A model with regressors must beat the same model without them.
                worse = ~(scores[row] < scores[names.index(base)])
                scores[row, worse] = np.inf
    values = np.full((len(idx), horizon), np.nan)
    choices: list[SeriesChoice] = []
    fallback = [n for n in DEFAULT_COMBINATION if n in models] or names
    for j in range(len(idx)):
        col = scores[:, j]
        usable = [r for r in np.argsort(col, kind="stable") if np.isfinite(col[r])]
        tried = {names[r]: float(col[r]) for r in range(len(names)) if np.isfinite(col[r])}
        if usable:
            members, score, runner, runner_score, why = _pick(
                [names[r] for r in usable], tried, bt, j, top
            )
            reason = f"{why} (rolling-origin MASE over {len(bt.cuts)} origins)"
            choice_kind = kind
        else:
            members = tuple(n for n in fallback if not np.isnan(final[n].values[j]).any())[:top]
            members = (
                members or tuple(n for n in names if not np.isnan(final[n].values[j]).any())[:1]
            )
            score, runner, runner_score = float("nan"), None, float("nan")
            reason = "history too short for a backtest: default models"
            choice_kind = "short" if kind == "regular" else kind
        if members:
            values[j] = nanmean(np.stack([final[n].values[j] for n in members]))
        else:
            # Nothing can model it: carry the last value (zero for an empty history).
            values[j] = hist[j][-1] if len(hist[j]) else 0.0
            members, reason = ("last_value",), "history too short for any model: last value"
        params = {n: final[n].params[j] for n in members if n in final}
        choices.append(
            SeriesChoice(
                kind=choice_kind,
                members=members,
                score=score,
                scores=tried,
                challenger=runner,
                challenger_score=runner_score,
                reason=reason,
                params=params,
            )
        )
    return values, choices


def _pick(
    ranked: list[str], tried: dict[str, float], bt: Any, j: int, top: int
) -> tuple[tuple[str, ...], float, str | None, float, str]:
    """Champion of series ``j``: the mean of the ``top`` best or a single model, by backtest.

    The combination is scored on the same rolling-origin backtest as each
    single model; whichever has the lowest MASE is live (the combination on a
    tie) and the best other candidate is its challenger. Returns
    ``(members, score, challenger, challenger score, why)``.
    """
    members = tuple(ranked[:top])
    candidates: list[tuple[str, tuple[str, ...], float]] = []
    if len(members) > 1:
        combo = nanmean(np.stack([bt.forecasts[n][:, j] for n in members]))
        combo_score = float(bt.mase(_embed(combo, j, bt.actuals.shape))[j])
        name = "mean(" + ", ".join(members) + ")"
        tried[name] = combo_score
        candidates.append((name, members, combo_score))
    candidates += [(n, (n,), tried[n]) for n in ranked]
    order = sorted(range(len(candidates)), key=lambda k: (
        candidates[k][2] if np.isfinite(candidates[k][2]) else np.inf, k))  # fmt: skip
    best, *rest = (candidates[k] for k in order)
    runner = rest[0] if rest else None
    listed = ", ".join(f"{n} {_fmt(s)}" for n, _, s in (candidates[k] for k in order[:4]))
    if len(best[1]) > 1:
        why = f"the mean of the best {len(best[1])} beats each model alone: {listed}"
    else:
        why = f"{best[0]} alone beats the mean of the best {top}: {listed}" if len(
            members) > 1 else f"lowest MASE: {listed}"  # fmt: skip
    return (
        best[1], best[2], runner[0] if runner else None,
        runner[2] if runner else float("nan"), why,
    )  # fmt: skip


def _embed(values: np.ndarray, j: int, shape: tuple[int, ...]) -> np.ndarray:
    full = np.full(shape, np.nan)
    full[:, j] = values
    return full


def _from_first_nonzero(y: np.ndarray) -> np.ndarray:
    nonzero = np.flatnonzero(y != 0)
    return y[nonzero[0] :] if len(nonzero) else y


def forecast_panel(
    history: Sequence[Sequence[float]],
    horizon: int,
    season: int,
    models: Mapping[str, ForecastModel],
    *,
    regressors: Sequence[np.ndarray | None] | None = None,
    top: int = 3,
    origins: int = 3,
    nonnegative: bool | None = None,
    progress: Progress | None = None,
) -> PanelForecast:
    """Forecast every series with the mean of its ``top`` models by backtest MASE.

    All-zero series get a zero forecast; intermittent series the best
    intermittent model (``croston``, ``tsb``); series too short for a backtest
    the default combination. ``nonnegative`` (default: when a series has no
    negative value) clips forecasts at zero.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    # Periods before a series' first demand (a product not yet launched) are not history.
    hist = [_from_first_nonzero(np.asarray(y, dtype=float)) for y in history]
    regular, sparse = _split_models(models)
    if regressors is not None and any(x is not None for x in regressors):
        regular.update(
            {
                n + REGRESSOR_SUFFIX: with_regressors(m)
                for n, m in list(regular.items())
                if not getattr(m, "members", None)
            }
        )
    kinds = [classify(y) if len(y) else "zero" for y in hist]
    groups = {
        "regular": [
            i for i, k in enumerate(kinds) if k == "regular" or (k == "intermittent" and not sparse)
        ],
        "intermittent": [i for i, k in enumerate(kinds) if k == "intermittent" and sparse],
    }
    runs = sum(len(ms) for g, ms in (("regular", regular), ("intermittent", sparse)) if groups[g])
    total = runs * (origins + 1)
    done = 0

    def tick(step: int) -> None:
        nonlocal done
        done += step
        if progress:
            progress(min(done, total), total)

    values = np.zeros((len(hist), horizon))
    choices: list[SeriesChoice | None] = [None] * len(hist)
    for group, pool, top_k in (("regular", regular, top), ("intermittent", sparse, 1)):
        idx = groups[group]
        if not idx:
            continue
        vals, picked = _choose(
            idx, pool, hist, horizon, season, regressors, top_k, origins, group, tick
        )
        for j, i in enumerate(idx):
            values[i] = vals[j]
            choices[i] = picked[j]
    for i, kind in enumerate(kinds):
        if kind == "zero":
            choices[i] = SeriesChoice(kind="zero", members=("zero",), reason="no demand in history")
    for i, y in enumerate(hist):
        clip = nonnegative if nonnegative is not None else bool(len(y) == 0 or y.min() >= 0)
        if clip:
            values[i] = np.maximum(values[i], 0.0)
    return PanelForecast(values, [c for c in choices if c is not None])
