"""Quickstart on a daily series the project never trained on: a `time_col`, a non-numeric
column left out through `targets`, a forecast, and a short backtest against naive forecasts.

    python examples/quickstart_daily.py

The series is synthetic (seed 42): weekly and yearly cycles, a slow trend and noise.
"""

import numpy as np
import pandas as pd

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import NaiveForecaster


def make_frame(n: int = 1100, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({
        "day": pd.date_range("2019-01-01", periods=n, freq="D").astype(str),
        "sales": 100 + 10 * np.sin(2 * np.pi * t / 7) + 20 * np.sin(2 * np.pi * t / 365.25)
        + 0.02 * t + rng.normal(0, 3, n),
        "visits": 50 + 5 * np.cos(2 * np.pi * t / 7) + rng.normal(0, 2, n),
        "store": "A",
    })


def main() -> None:
    df = make_frame()
    quiet = {"enable_progress_bar": False}
    model = TXLForecaster(horizon=14, targets=["sales", "visits"], time_col="day",
                          trainer_kwargs=quiet).fit(df.iloc[:900])
    print(model.predict().round(2))

    series = df.set_index(pd.to_datetime(df["day"]))[["sales", "visits"]]
    result = backtest(
        {"txl": TXLForecaster(horizon=14, trainer_kwargs=quiet),
         "snaive": NaiveForecaster(14, "seasonal"), "naive": NaiveForecaster(14)},
        series, horizon=14, start=900, train_end=800, mase_lag=7,
    )
    print(result.metrics[["mse", "mae", "mase", "fit_seconds", "n_windows"]].round(4))


if __name__ == "__main__":
    main()
