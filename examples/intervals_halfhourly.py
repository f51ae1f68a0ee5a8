"""Conformal intervals of TXL and seasonal naive on a synthetic half-hourly demand series.

120 days at 30 minutes: a daily load profile (lower at weekends), a slow drift, AR(1) weather
noise (phi 0.95) and measurement noise. Split 60/20/20 in time order: TXL trains on the first
60% with the next 20% for early stopping and calibration (seasonal naive calibrates on that
20% too), and both are scored over every stride-1 window of the last 20% at horizon 48
(one day), with the empirical coverage of their 80% and 95% intervals.

    python examples/intervals_halfhourly.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import NaiveForecaster


def demand(n_days: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 48 * n_days
    t = np.arange(n)
    day = np.sin(2 * np.pi * t / 48 - 1.2) + 0.5 * np.sin(4 * np.pi * t / 48)
    weekday = np.where((t // 48) % 7 >= 5, 0.7, 1.0)
    weather = np.zeros(n)
    for i in range(1, n):
        weather[i] = 0.95 * weather[i - 1] + 0.15 * rng.standard_normal()
    drift = 0.3 * np.sin(2 * np.pi * t / (48 * 60))
    values = 10 + 3 * day * weekday + weather + drift + 0.2 * rng.standard_normal(n)
    return pd.DataFrame({"demand": values},
                        index=pd.date_range("2023-01-01", periods=n, freq="30min"))


def main() -> None:
    torch.set_num_threads(1)
    df = demand()
    n, horizon = len(df), 48
    models = {"txl": TXLForecaster(horizon=horizon, max_epochs=3,
                                   trainer_kwargs={"enable_progress_bar": False}),
              "snaive": NaiveForecaster(horizon=horizon, method="seasonal")}
    result = backtest(models, df, horizon, start=int(0.8 * n), train_end=int(0.6 * n),
                      coverage=[0.8, 0.95], keep_forecasts=False)
    print(result.metrics[["mse", "coverage_80", "width_80", "winkler_80", "coverage_95",
                          "width_95", "n_windows"]].round(4).to_string())


if __name__ == "__main__":
    main()
