"""Forecasts of every model at fixed seeds, written or compared, through the public API only.

Run it once on a commit you trust (``--write ref.npz``) and again on a later one
(``--compare ref.npz``): the same seeds must give the same forecasts (1e-6 relative in
float64 where the computation is unchanged). It fits each model on the first 2,000 rows of
ETTh1 with a short budget, then records `predict()`, `predict_interval()`, the forecasts after
a later history, the backtest's per-window forecasts and, for TXL, the forecast after
`update`.

Run both sides with `OMP_NUM_THREADS=1`: the thread counts of torch and of the BLAS behind
numpy and statsmodels change the order of floating-point sums, so forecasts computed with
other thread counts differ by rounding (about 1e-5 relative for ARIMA's optimiser) even
where the code is the same.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster
from txl_ts.datasets import load

HORIZON = 24


def models() -> dict:
    common = {"horizon": HORIZON, "random_state": 0, "max_epochs": 2,
              "trainer_kwargs": {"enable_progress_bar": False}}
    return {
        "txl": TXLForecaster(**common),
        "txl-nomem": TXLForecaster(mem_len=0, **common),
        "lstm": LSTMForecaster(**common),
        "dlinear": DLinearForecaster(**common),
        "arima": ARIMAForecaster(horizon=HORIZON),
        "naive": NaiveForecaster(horizon=HORIZON, method="last"),
        "snaive": NaiveForecaster(horizon=HORIZON, method="seasonal", season=24),
    }


def record() -> dict[str, np.ndarray]:
    df = load("ETTh1").iloc[:2400]
    train, later = df.iloc[:2000], df.iloc[:2200]
    out = {}
    for name, model in models().items():
        model.fit(train)
        out[f"{name}/predict"] = model.predict().to_numpy()
        out[f"{name}/interval"] = model.predict_interval([0.8, 0.95]).to_numpy()
        out[f"{name}/history"] = model.predict(history=later).to_numpy()
        result = backtest({name: model}, df.iloc[:2300], HORIZON, 2200, stride=7)
        out[f"{name}/backtest"] = result.predictions[name]
        if name.startswith("txl"):
            model.update(df.iloc[2000:2100])
            out[f"{name}/update"] = model.predict().to_numpy()
        print(f"{name}: done", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="NPZ")
    group.add_argument("--compare", metavar="NPZ")
    args = parser.parse_args(argv)
    now = record()
    if args.write:
        np.savez(args.write, **now)
        return 0
    ref = dict(np.load(args.compare))
    worst = 0.0
    for key in sorted(ref):
        if key not in now:
            print(f"{key}: missing now")
            worst = np.inf
            continue
        a, b = ref[key], now[key]
        if a.shape != b.shape:
            print(f"{key}: shape {a.shape} -> {b.shape}")
            worst = np.inf
            continue
        rel = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a))))
        worst = max(worst, rel)
        print(f"{key:24s} max relative difference {rel:.2e}")
    print(f"worst {worst:.2e}")
    return 0 if worst <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
