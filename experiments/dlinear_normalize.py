"""DLinear's `normalize` options on the three short series of `benchmarks.baseline_sanity`:
the validation MSE that chose the default, beside the test score it is not chosen on.

    python -m experiments.dlinear_normalize --wheels wheels/ [--seeds 3] [--options none,mean]

Each option is fitted as `benchmarks.baseline_sanity` fits DLinear (defaults, first 3,000
rows, its own 20% validation tail inside them) and scored on the same day-ahead windows after
them. Per fit it records `best_val_loss` (the validation tail's MSE at the kept epoch, in
train-scaled units: the evidence for a default), the training loss, the epochs, and the test
MSE over the seasonal naive's (reported, never used to choose). Besides, for the paper's
DLinear ("none"), the gain of its trend map on a constant window (1 keeps the level): below 1
pulls forecasts towards the training mean, which is what fails on a series whose test rows
leave the training rows' range (Sand Point's summer after a winter and spring).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from benchmarks.baseline_sanity import TRAIN_ROWS, series
from benchmarks.common import RESULTS, machine
from txl_ts.backtest import backtest
from txl_ts.baselines import DLinearForecaster, NaiveForecaster
from txl_ts.baselines.dlinear import NORMALIZE

OUT = RESULTS / "dlinear_normalize.json"


def run(wheels: Path, seeds: int, options: list[str]) -> dict:
    cells = []
    for name, (df, day) in series(wheels).items():
        train, test = df.iloc[:TRAIN_ROWS, 0], df.iloc[TRAIN_ROWS:, 0]
        levels = {"train_mean": float(train.mean()), "train_std": float(train.std()),
                  "val_tail_mean": float(train.iloc[-TRAIN_ROWS // 5:].mean()),
                  "test_mean": float(test.mean()), "test_max": float(test.max()),
                  "train_max": float(train.max())}
        print(name, {k: round(v, 2) for k, v in levels.items()}, flush=True)
        for option in options:
            for seed in range(seeds):
                model = DLinearForecaster(horizon=day, normalize=option, random_state=seed,
                                          trainer_kwargs={"enable_progress_bar": False})
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = backtest({"dlinear": model,
                                       "snaive": NaiveForecaster(day, "seasonal")},
                                      df, day, TRAIN_ROWS, stride=day, keep_forecasts=False)
                fitted = result.models["dlinear"]
                summary = fitted.fit_summary_
                cell = {"series": name, "normalize": option, "seed": seed,
                        "val_mse": summary["best_val_loss"], "train_mse": summary["train_loss"],
                        "epochs": summary["epochs"], "lookback": fitted.lookback_,
                        "test_mse_vs_snaive": float(result.metrics.loc["dlinear",
                                                                       "mse_vs_snaive"]),
                        **levels}
                if option == "none":
                    gain = fitted.net_.trend[0].weight.detach().sum(dim=1)
                    cell["trend_gain_mean"] = float(gain.mean())
                cells.append(cell)
                print(f"{name:26s} {option:6s} seed {seed}: val {cell['val_mse']:.4f} "
                      f"test {cell['test_mse_vs_snaive']:.3f} x snaive "
                      f"(epochs {cell['epochs']})", flush=True)
    return {"experiment": "dlinear_normalize", "machine": machine(), "cells": cells}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--options", default=",".join(NORMALIZE))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    report = run(args.wheels, args.seeds, args.options.split(","))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
