"""Empirical coverage of the conformal 80% and 95% intervals on the ETTh1 test split.

Standard protocol (as `python -m txl_ts benchmark`): train rows 0..8639, validation
8640..11519 (early stopping for TXL, and the calibration tail of every model), test
11520..14399 scored over every stride-1 window at horizon 96, all 7 columns. Models: TXL
(the defaults, trained to early stopping unless `--max-epochs` caps it; seed 0), seasonal
naive (24 h) and repeat-last naive. Reports per model the coverage, mean width and Winkler
score (train-scaled), and the coverage per column and per quarter of the horizon.

    python -m benchmarks.interval_coverage [--smoke] [--max-epochs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine, set_threads, write_json
from txl_ts.backtest import backtest
from txl_ts.benchmark import MASE_LAG, load_protocol, make_model
from txl_ts.metrics import level_tag

NAME = "interval_coverage"
COVERAGE = (0.8, 0.95)
SMOKE_TXL = dict(patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                 segment_len=4, mem_len=8, n_segments=2)


def breakdown(result, name: str) -> dict:
    """Coverage per column and per quarter of the horizon, for each level."""
    y, pred, half = result.y, result.predictions[name], result.half_widths[name]
    out = {}
    for i, c in enumerate(result.coverage):
        inside = np.abs(y - pred) <= half[i]  # (n, H, C)
        quarters = np.array_split(np.arange(result.horizon), 4)
        out[level_tag(c)] = {
            "by_column": dict(zip(result.columns, inside.mean(axis=(0, 1)).tolist(),
                                  strict=True)),
            "by_horizon_quarter": [float(inside[:, q].mean()) for q in quarters],
        }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="truncated data, tiny TXL")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap TXL's epochs (default: its own, early-stopped)")
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    set_threads(1)
    horizon = 24 if args.smoke else args.horizon
    df, split = load_protocol("ETTh1", "M", rows=2000 if args.smoke else None)
    txl = make_model("txl", horizon, seed=0, max_epochs=1 if args.smoke else args.max_epochs,
                     txl_params=SMOKE_TXL if args.smoke else None)
    models = {"txl": txl, "snaive": make_model("snaive", horizon),
              "naive": make_model("naive", horizon)}
    began = time.perf_counter()
    result = backtest(models, df, horizon, start=split.test_start, end=split.end,
                      train_end=split.train_end, mase_lag=MASE_LAG, coverage=list(COVERAGE))
    keys = ["mse", "mae", "n_windows", "fit_seconds"] + [
        f"{m}_{level_tag(c)}" for c in COVERAGE for m in ("coverage", "width", "winkler")]
    payload = {
        "name": NAME, "smoke": args.smoke, "dataset": "ETTh1", "horizon": horizon,
        "split": split.as_dict(), "coverage_levels": list(COVERAGE),
        "txl_max_epochs": txl.max_epochs, "machine": machine(),
        "seconds": time.perf_counter() - began,
        "calibration_windows": {n: m.calibration_.n_windows
                                for n, m in result.models.items()},
        "models": {name: {**{k: float(result.metrics.loc[name, k]) for k in keys},
                          **breakdown(result, name)} for name in models},
    }
    path = write_json(args.out, NAME, payload)
    for name, row in payload["models"].items():
        print(f"{name:7s} mse={row['mse']:.4f} " + " ".join(
            f"cov{level_tag(c)}={row[f'coverage_{level_tag(c)}']:.3f} "
            f"width{level_tag(c)}={row[f'width_{level_tag(c)}']:.3f} "
            f"winkler{level_tag(c)}={row[f'winkler_{level_tag(c)}']:.3f}" for c in COVERAGE))
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
