"""Write small saved models and their forecasts, for the test that files written by an earlier
version of txl_ts still load (tests/test_persistence.py).

    python -m experiments.make_saved_fixtures tests/data/saved_0.1.0

Run it with the version whose files are to be kept loadable; it uses the public API only.
Each model is fitted on a synthetic hourly series with tiny settings, saved to
`OUT/<name>/`, and its `predict()` and `predict_interval(0.8)` are written beside it as CSV.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from txl_ts import TXLForecaster
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster

QUIET = {"enable_progress_bar": False}
H = 6


def frame(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    t = np.arange(n)
    values = np.column_stack([10 + 3 * np.sin(2 * np.pi * t / 24 + k) + rng.normal(0, .2, n)
                              for k in range(2)])
    return pd.DataFrame(values, columns=["load", "temp"],
                        index=pd.date_range("2024-05-01", periods=n, freq="h", tz="Europe/Berlin"))


MODELS = {
    "naive": lambda: NaiveForecaster(H),
    "snaive": lambda: NaiveForecaster(H, "seasonal", season=24),
    "arima": lambda: ARIMAForecaster(H, order=(1, 0, 0), maxiter=10),
    "dlinear": lambda: DLinearForecaster(H, lookback=24, kernel=5, max_epochs=2,
                                         trainer_kwargs=QUIET),
    "lstm": lambda: LSTMForecaster(H, lookback=24, hidden_size=4, n_layers=1, max_epochs=2,
                                   trainer_kwargs=QUIET),
    "txl": lambda: TXLForecaster(H, patch_len=4, stride=4, d_model=8, n_heads=2, n_layers=1,
                                 d_ff=8, segment_len=2, mem_len=2, n_segments=2, max_epochs=2,
                                 trainer_kwargs=QUIET),
}


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:])[0])
    df = frame()
    for name, make in MODELS.items():
        model = make().fit(df)
        model.save(out / name)
        model.predict().to_csv(out / f"{name}_predict.csv")
        model.predict_interval(0.8).to_csv(out / f"{name}_interval.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
