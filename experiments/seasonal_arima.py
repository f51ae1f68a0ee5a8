"""Seasonal ARIMA (Fourier terms of the daily and weekly periods + ARIMA) against the
non-seasonal ARIMA and the daily / weekly seasonal naive, on synthetic half-hourly demand.

Two kinds of series, both half-hourly with AR(1) noise:
* "weekend": a daily profile with morning and evening peaks, smaller on weekends, and a
  wandering level (an AR(1) with coefficient 0.999, like weather-driven load);
* "weekday-shapes": every day of the week has its own peak sizes and times (so only the
  weekly naive or a full weekly profile repeats it) and the level barely moves: the case
  that favours the weekly seasonal naive.
Ten weeks train, one week validation, two weeks test, horizon 96 (two days), every stride-1
window; MSE on values scaled by the training part. `harmonics=24` shows why the default takes
all harmonics.

    python -m experiments.seasonal_arima [--seeds 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, machine, set_threads, write_json
from txl_ts.backtest import backtest
from txl_ts.baselines import ARIMAForecaster, NaiveForecaster

NAME = "seasonal_arima"
DAY, WEEK, HORIZON = 48, 336, 96
TRAIN, VALID, TEST = 10 * WEEK, WEEK, 2 * WEEK


def half_hourly_demand(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """One column of half-hourly load with daily and weekly cycles (see the module doc)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    hour = (t % DAY) / 2
    weekend = ((t // DAY) % 7) >= 5
    profile = (np.exp(-((hour - 8) ** 2) / 4) + 1.3 * np.exp(-((hour - 19) ** 2) / 6)
               - 0.6 * np.cos(2 * np.pi * t / DAY))
    profile = np.where(weekend, 0.6 * profile - 0.3, profile)
    level = np.zeros(n_rows)
    noise = np.zeros(n_rows)
    shocks = rng.standard_normal((n_rows, 2))
    for i in range(1, n_rows):
        level[i] = 0.999 * level[i - 1] + 0.03 * shocks[i, 0]
        noise[i] = 0.7 * noise[i - 1] + 0.1 * shocks[i, 1]
    values = 10 + profile + level + noise
    index = pd.date_range("2023-01-02", periods=n_rows, freq="30min")
    return pd.DataFrame({"load": values}, index=index)


def weekday_shapes(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """One column of half-hourly load whose daily profile depends on the day of the week."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    hour, dow = (t % DAY) / 2, (t // DAY) % 7
    size, shift = rng.uniform(0.5, 1.5, 7)[dow], rng.uniform(-2, 2, 7)[dow]
    profile = size * (np.exp(-((hour - 8 - shift) ** 2) / 3)
                      + 1.2 * np.exp(-((hour - 18 + shift) ** 2) / 5)) - 0.5 * (dow >= 5)
    level = np.zeros(n_rows)
    noise = np.zeros(n_rows)
    shocks = rng.standard_normal((n_rows, 2))
    for i in range(1, n_rows):
        level[i] = 0.9995 * level[i - 1] + 0.005 * shocks[i, 0]
        noise[i] = 0.8 * noise[i - 1] + 0.08 * shocks[i, 1]
    index = pd.date_range("2023-01-02", periods=n_rows, freq="30min")
    return pd.DataFrame({"load": 5 + profile + level + noise}, index=index)


KINDS = {"weekend": half_hourly_demand, "weekday-shapes": weekday_shapes}


def run(seeds: int) -> dict:
    rows = []
    for (kind, make), seed in itertools.product(KINDS.items(), range(seeds)):
        df = make(TRAIN + VALID + TEST, seed)
        models = {
            "arima (seasonal, default)": ARIMAForecaster(horizon=HORIZON),
            "arima harmonics=24": ARIMAForecaster(horizon=HORIZON, harmonics=24),
            "arima seasonal=False": ARIMAForecaster(horizon=HORIZON, seasonal=False),
            "snaive weekly (336)": NaiveForecaster(HORIZON, "seasonal", season=WEEK),
            "snaive daily (48)": NaiveForecaster(HORIZON, "seasonal", season=DAY),
        }
        result = backtest(models, df, HORIZON, start=TRAIN + VALID, train_end=TRAIN,
                          keep_forecasts=False)
        for name, metrics in result.metrics.iterrows():
            rows.append({"kind": kind, "seed": seed, "model": name, "mse": float(metrics["mse"]),
                         "mae": float(metrics["mae"]),
                         "fit_seconds": float(metrics["fit_seconds"]),
                         "predict_seconds": float(metrics["predict_seconds"])})
        print(result.metrics[["mse", "mae", "fit_seconds", "predict_seconds"]].to_string())
    table = pd.DataFrame(rows).groupby(["kind", "model"])[["mse", "mae", "fit_seconds"]].mean()
    print(table.to_string())
    return {"runs": rows, "mean": table.reset_index().to_dict(orient="records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    set_threads(1)
    payload = {"name": NAME, "machine": machine(), "horizon": HORIZON,
               "rows": {"train": TRAIN, "validation": VALID, "test": TEST}, **run(args.seeds)}
    print("wrote", write_json(args.out, NAME, payload))


if __name__ == "__main__":
    main()
