"""Measure TXLForecaster with default settings on ETTh1: fit time, peak RAM, predict time, and
test MSE over the standard test split (every stride-1 window).

    python examples/measure_core.py [--horizon 96] [--threads N] [--out results/core_etth1.json]

Protocol: fit on rows 0..8639 (the model keeps its own 20% validation tail for early stopping);
forecast from every cutoff 11519..14303, the history reaching back over all earlier rows; MSE/MAE
on values scaled by a StandardScaler fitted on rows 0..8639.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from txl_ts import TXLForecaster, datasets
from txl_ts.benchmark import machine_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    df = datasets.load("ETTh1")
    train, known = df.iloc[:8640], df.iloc[:14400]
    h = args.horizon
    model = TXLForecaster(horizon=h, random_state=args.seed)

    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started = time.perf_counter()
    model.predict(history=known.iloc[:11520])
    predict_seconds = time.perf_counter() - started

    cutoffs = np.arange(11519, 14400 - h)
    started = time.perf_counter()
    forecasts = model.rolling_forecasts(known, cutoffs)  # (n, H, C), original units
    rolling_seconds = time.perf_counter() - started
    actual = np.stack([known.to_numpy()[c + 1 : c + 1 + h] for c in cutoffs])
    scaler = StandardScaler().fit(train.to_numpy())
    n, _, c = forecasts.shape
    err = scaler.transform(forecasts.reshape(-1, c)) - scaler.transform(actual.reshape(-1, c))
    result = {
        "horizon": h,
        "seed": args.seed,
        "n_windows": int(n),
        "test_mse": float(np.mean(err**2)),
        "test_mae": float(np.mean(np.abs(err))),
        "fit_seconds": fit_seconds,
        "fit_summary": model.fit_summary_,
        "peak_rss_mib_after_fit": peak_rss_mib,
        "predict_seconds_full_history_11520_rows": predict_seconds,
        "rolling_seconds_all_windows": rolling_seconds,
        "torch_threads": torch.get_num_threads(),
        "machine": machine_info(),
        "params": model.get_params(),
    }
    print(json.dumps(result, indent=2, default=str))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
