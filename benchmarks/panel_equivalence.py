"""Channel independence: ETTh1's 7 columns as one wide "M" model vs 7 series of one long frame.

Two ways to train one global `TXLForecaster` on the same data:

- wide: the multivariate "M" model of the standard benchmark (`targets` = all 7 columns),
  fitted and scored by `txl_ts.benchmark.run_one` itself, so its numbers are those of
  `python -m txl_ts benchmark` and docs/results.md;
- long: the same 7 columns as 7 series of one long frame (`unique_id` = column name, `ds`,
  `y`), fitted globally by the same model with `id_col="unique_id", time_col="ds"`, on the
  same training rows with the same validation rows (`validation_data`, early stopping).
  Each series is then forecast through its public wide view, `model.series_model(column)`,
  by `txl_ts.backtest` on the same stride-1 test windows with a StandardScaler fitted on the
  column's training rows, and the 7 columns' MSE / MAE are averaged: what the wide
  benchmark's MSE over all columns is, since every column has the same windows.

The same model parameters come from `txl_ts.benchmark.make_model` for both (defaults, early
stopping, the seed). What is not the same by construction: a wide batch holds
`batch_size` windows of all 7 columns, a long batch `batch_size` windows of one series each,
so the long model takes 7 times as many (7 times smaller) optimiser steps per epoch over the
same windows. Seeds 0..n-1 for both; "within seed noise" is |difference| <= 2 standard errors
of the difference (Welch: sqrt(s_w^2 / n + s_l^2 / n)), a loose test with 3 seeds.

    python -m benchmarks.panel_equivalence [--horizons 96,336] [--seeds 3] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, set_threads

NAME = "etth1_long_vs_wide"
OUT = RESULTS / "panel" / f"{NAME}.json"
ID, TIME, VALUE = "unique_id", "ds", "y"
# --quick: a small network on a truncated ETTh1, one epoch: exercises the code in seconds
QUICK_PARAMS = {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "segment_len": 4,
                "mem_len": 8, "n_segments": 2}
QUICK_ROWS = 1200


def long_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The columns of the wide frame `df` as series of one long frame (id, ds, y)."""
    return pd.DataFrame({
        ID: np.repeat(np.asarray(df.columns, dtype=object), len(df)),
        TIME: np.tile(df.index.to_numpy(), df.shape[1]),
        VALUE: df.to_numpy().T.ravel(),
    })


def run_wide(df: pd.DataFrame, split: Any, horizon: int, seed: int,
             max_epochs: int | None, txl_params: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's own fit and score of the wide "M" model."""
    from txl_ts.benchmark import run_one

    row, error, _ = run_one("txl", df, split, horizon, seed, max_epochs=max_epochs,
                            txl_params=txl_params)
    if row is None:
        raise RuntimeError(f"wide run failed (seed {seed}): {error}")
    return {"seed": seed, "mse": row["mse"], "mae": row["mae"], "epochs": row["epochs"],
            "stopped_early": row["stopped_early"], "fit_seconds": row["fit_seconds"],
            "n_windows": row["n_windows"],
            "best_val_loss": (row.get("fit_summary") or {}).get("best_val_loss"),
            "kept_start": (row.get("fit_summary") or {}).get("kept_start")}


def run_long(df: pd.DataFrame, split: Any, horizon: int, seed: int,
             max_epochs: int | None, txl_params: dict[str, Any]) -> dict[str, Any]:
    """One global fit on the 7 columns as 7 series; each scored as the wide benchmark
    scores a column (train-fitted scaler, every stride-1 test window)."""
    from txl_ts.backtest import backtest
    from txl_ts.benchmark import make_model

    model = make_model("txl", horizon, seed, max_epochs, txl_params)
    model.set_params(id_col=ID, time_col=TIME)
    began = time.perf_counter()
    model.fit(long_frame(df.iloc[: split.train_end]),
              validation_data=long_frame(df.iloc[split.train_end : split.test_start]))
    fit_seconds = time.perf_counter() - began
    per_series = {}
    for column in df.columns:
        wide = pd.DataFrame({TIME: df.index, VALUE: df[column].to_numpy()})
        result = backtest({"txl": model.series_model(column)}, wide, horizon,
                          start=split.test_start, end=split.end, train_end=split.train_end,
                          time_col=TIME, keep_forecasts=False)
        per_series[column] = {"mse": float(result.metrics.loc["txl", "mse"]),
                              "mae": float(result.metrics.loc["txl", "mae"]),
                              "n_windows": int(result.n_windows)}
    windows = {s["n_windows"] for s in per_series.values()}
    if len(windows) != 1:
        raise RuntimeError(f"the series were scored on different windows: {windows}")
    summary = model.fit_summary_
    return {"seed": seed,
            "mse": float(np.mean([s["mse"] for s in per_series.values()])),
            "mae": float(np.mean([s["mae"] for s in per_series.values()])),
            "epochs": summary.get("epochs"), "stopped_early": summary.get("stopped_early"),
            "fit_seconds": fit_seconds, "n_windows": windows.pop(),
            "best_val_loss": summary.get("best_val_loss"),
            "kept_start": summary.get("kept_start"), "per_series": per_series}


def stats(runs: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    values = np.array([r[key] for r in runs], dtype=float)
    return {"mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else None}


def compare(wide: list[dict[str, Any]], long: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std over seeds of both, their difference and whether it is within noise."""
    out: dict[str, Any] = {}
    for key in ("mse", "mae"):
        w, lo = stats(wide, key), stats(long, key)
        diff = lo["mean"] - w["mean"]
        entry: dict[str, Any] = {"wide": w, "long": lo, "long_minus_wide": diff,
                                 "relative": diff / w["mean"]}
        if w["std"] is not None and lo["std"] is not None:
            se = math.sqrt(w["std"] ** 2 / len(wide) + lo["std"] ** 2 / len(long))
            entry["se_of_difference"] = se
            entry["within_seed_noise"] = bool(abs(diff) <= 2 * se)
        out[key] = entry
    out["epochs"] = {"wide": [r["epochs"] for r in wide], "long": [r["epochs"] for r in long]}
    return out


def run(horizons: list[int], seeds: int, quick: bool, max_epochs: int | None,
        out: Path | None = None, jobs: int = 1, log=print) -> dict[str, Any]:
    """Every horizon's cell; the report so far is written to `out` after each cell (a long
    run that is stopped keeps its finished horizons; `complete` says whether all are in)."""
    from txl_ts.benchmark import _json_safe, load_protocol, machine_info, write_json_atomic

    rows = QUICK_ROWS if quick else None
    df, split = load_protocol("ETTh1", "M", rows)
    txl_params = dict(QUICK_PARAMS) if quick else {}
    began = time.perf_counter()
    cells: list[dict[str, Any]] = []
    payload = {
        "benchmark": NAME,
        "smoke": quick,
        "machine": machine_info(),
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": {"dataset": "ETTh1", "features": "M", "columns": list(df.columns),
                     "rows": len(df), "split": split.as_dict(), "truncated_rows": rows,
                     "scoring": "train-only StandardScaler per column; MSE / MAE on scaled "
                                "values over every stride-1 test window, all horizon steps; "
                                "the long model's 7 series' metrics averaged (equal windows)",
                     "wide": "txl_ts.benchmark.run_one('txl', ...): the M benchmark as is",
                     "long": "TXLForecaster(id_col='unique_id', time_col='ds') on the long "
                             "frame; series_model(column) scored by txl_ts.backtest",
                     "within_seed_noise": "|long - wide| <= 2 * sqrt(s_w^2/n + s_l^2/n)",
                     "batches": "wide: batch_size windows x 7 columns per step; long: "
                                "batch_size single-series windows per step (7x the steps)"},
        "seeds": list(range(seeds)),
        "max_epochs": max_epochs,
        "txl_params": txl_params,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "horizons": horizons,
        "cells": cells,
        "complete": False,
    }
    def write(horizon: int) -> None:
        c = cells[-1]["comparison"]["mse"]
        log(f"H={horizon}: MSE wide {c['wide']['mean']:.4f} long {c['long']['mean']:.4f} "
            f"diff {c['long_minus_wide']:+.4f} within noise: {c.get('within_seed_noise')}")
        cells.sort(key=lambda cell: cell["horizon"])
        payload.update(complete=len(cells) == len(horizons),
                       runtime_seconds=time.perf_counter() - began,
                       load_average_end=list(os.getloadavg()),
                       finished_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        if out is not None:
            write_json_atomic(out, _json_safe(payload))

    tasks = [(name, horizon, seed) for horizon in horizons for seed in range(seeds)
             for name in ("wide", "long")]
    done: dict[tuple[str, int, int], dict[str, Any]] = {}
    with _pool(jobs) as pool:
        futures = {pool.submit(run_task, name, df, split, horizon, seed, max_epochs,
                               txl_params): (name, horizon, seed)
                   for name, horizon, seed in tasks}
        pending = list(horizons)
        for future in as_completed(futures):
            name, horizon, seed = futures[future]
            row = done[(name, horizon, seed)] = future.result()
            log(f"[{datetime.now(timezone.utc):%H:%M:%S}] H={horizon} seed={seed} {name}: "
                f"mse={row['mse']:.4f} mae={row['mae']:.4f} epochs={row['epochs']} "
                f"fit={row['fit_seconds']:.1f}s")
            for horizon in [h for h in pending
                            if all((n, h, s) in done for n, h2, s in tasks if h2 == h)]:
                pending.remove(horizon)
                cells.append(_cell(horizon, seeds, done))
                write(horizon)
    return payload


def _cell(horizon: int, seeds: int, done: dict) -> dict[str, Any]:
    wide = [done[("wide", horizon, s)] for s in range(seeds)]
    long = [done[("long", horizon, s)] for s in range(seeds)]
    return {"horizon": horizon, "n_windows": wide[0]["n_windows"], "wide": wide,
            "long": long, "comparison": compare(wide, long)}


def run_task(name: str, *args: Any) -> dict[str, Any]:
    """One fit and score, in a worker process (one torch thread)."""
    set_threads(1)
    return (run_wide if name == "wide" else run_long)(*args)


class InProcess(Executor):
    """Runs each task when it is submitted, in this process (`--jobs 1`)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _pool(jobs: int) -> Executor:
    """Worker processes for the fits (spawned: a clean torch in each), or this process for
    one job; the fits are independent and their scores do not depend on how many run at
    once."""
    if jobs <= 1:
        return InProcess()
    import multiprocessing

    return ProcessPoolExecutor(max_workers=jobs,
                               mp_context=multiprocessing.get_context("spawn"))
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", default=None,
                        help="comma-separated (default 96,336; --quick: 24)")
    parser.add_argument("--seeds", type=int, default=None, help="default 3 (--quick: 2)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap the epochs (default: the model's, with early stopping)")
    parser.add_argument("--quick", action="store_true",
                        help=f"first {QUICK_ROWS} rows, a tiny network, 1 epoch (seconds)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="fits run in this many worker processes (1: in this process)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    set_threads(1)
    horizons = ([int(h) for h in args.horizons.split(",")] if args.horizons
                else [24] if args.quick else [96, 336])
    seeds = args.seeds or (2 if args.quick else 3)
    max_epochs = 1 if args.quick and args.max_epochs is None else args.max_epochs
    out = args.out or (OUT.with_name(f"{NAME}_quick.json") if args.quick else OUT)
    payload = run(horizons, seeds, args.quick, max_epochs, out, args.jobs)
    print(f"wrote {out}")
    return payload


if __name__ == "__main__":
    main()
