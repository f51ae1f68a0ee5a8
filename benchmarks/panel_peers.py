"""Peers on the many-series panel (`benchmarks.panel_data`): NeuralForecast's NHITS, one
global model over the three series, and statsforecast's AutoETS and AutoARIMA, one per
series, as a report that sits beside the library's panel runs.

NeuralForecast and statsforecast are not dependencies of txl_ts. Install them into a
separate environment with this package (scikit-learn is needed by `txl_ts.benchmark`, whose
helpers the script uses), then run the script there from the repository root:

    python3.11 -m venv peer && peer/bin/pip install torch==2.13.0 neuralforecast==3.3.0 \\
        statsforecast==2.1.1 scikit-learn && peer/bin/pip install --no-deps -e .
    OMP_NUM_THREADS=1 peer/bin/python -m benchmarks.panel_peers --seeds 3

The report was made with: torch 2.13.0+cpu, neuralforecast 3.3.0, pytorch-lightning 2.6.6,
statsforecast 2.1.1, coreforecast 0.0.20, utilsforecast 0.2.17, numpy 2.4.6, pandas 2.3.3,
scipy 1.17.1, scikit-learn 1.9.1 (Python 3.11); the report records the versions it ran with.

Protocol: that of `benchmarks.panel_data` (three hourly series; per series the last 2,400
rows are test, the 1,200 before validation, the rest training; H = 24; every stride-1 test
cutoff, 2,377 windows per series; MSE / MAE of values z-scored with each series' training
statistics, pooled as the unweighted mean over series; MSE relative to the seasonal naive of
lag 24 on the same windows; the same on every 24th window). y is z-scored per series with its
training-row mean and std before it reaches either library, and the forecasts are mapped back
to original units and scored by `panel_data.score`.

NHITS (``nhits-nf``): NHITS(h=24, input_size=168) at NeuralForecast's defaults otherwise
(MAE loss, 3 identity stacks of 512x512 MLPs, max_steps 1,000, learning rate 1e-3, batches of
32 series x 1,024 windows, no scaler), one global model over the three series per seed.
Early stopping, the only change: validation loss checked every 50 steps, patience 5 checks (as
`benchmarks.nhits_peer`). ``cross_validation(val_size=1200, test_size=2400, step_size=1,
refit=False)`` on the long frame trains on windows whose targets lie in the training rows,
computes the validation loss on windows whose targets lie in the validation rows, and never
sees a test target before forecasting. Lightning's EarlyStopping does not restore the best
checkpoint: the test forecasts come from the weights at the step where training stopped.
The training rows only are fitted; validation rows serve early stopping.

AutoETS / AutoARIMA (``autoets-sf``, ``autoarima-sf``), season_length 24, statsforecast's
defaults otherwise, one model per series. Deviation from the NHITS row: each is fitted once on
the training AND validation rows (statsforecast has no early stopping to spend validation rows
on), then ``cross_validation(h=24, step_size=s, n_windows=..., refit=False)`` forecasts the test
windows with the fitted parameters, its ``forward`` conditioning on the history up to each
cutoff, without re-estimating. Deterministic: one run each.

Step sizes: AutoETS runs at step 1 (every window) and is scored at stride 1 and on every 24th
window. AutoARIMA runs at step 24 (`panel_data.PEER_STRIDE`) and is scored on every 24th window
only: a pilot on one series (ETTh1_OT) on this 2-core machine took minutes to fit and about a
tenth of a second per window to forward, which over 2,377 windows x 3 series beside three
NHITS seeds would not fit the ~40-minute budget. Its stride-24 scores are not the stride-1
protocol; compare them with the other rows' stride-24 scores. ``--arima-step 1`` runs it in
full.

The report (benchmarks/results/panel/peers.json) is rewritten after every model and seed, so
that a run cut short keeps what finished. The seasonal naive's scores are in it as the
reference. NeuralForecast imports ray for its Auto* classes, which the peer never uses;
`--without-ray` puts an inert stand-in in its place when ray is not installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import panel_data as pdata
from benchmarks.patchtst_peer import stand_in_for_ray
from txl_ts.benchmark import machine_info, write_json_atomic

NHITS_NAME = "nhits-nf"
NHITS = dict(h=pdata.HORIZON, input_size=168, val_check_steps=50, early_stop_patience_steps=5)
STATS_NAMES = {"autoets-sf": "AutoETS", "autoarima-sf": "AutoARIMA"}
MODELS = (*STATS_NAMES, NHITS_NAME)
OUT = Path(__file__).resolve().parent / "results" / "panel" / "peers.json"
STRIDES = (1, pdata.PEER_STRIDE)
METRICS = ("mse", "mae", "mse_vs_snaive", "mae_vs_snaive")
PACKAGES = ("torch", "neuralforecast", "pytorch-lightning", "statsforecast", "coreforecast",
            "utilsforecast", "numpy", "pandas", "scipy", "scikit-learn")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def scores(forecasts: dict[str, np.ndarray], panel: pd.DataFrame, step: int
           ) -> dict[str, Any]:
    """`panel_data.score` at every stride the forecasts cover: forecasts made every `step`
    windows are scored at stride `step` only; stride-1 forecasts also on every 24th window."""
    out: dict[str, Any] = {}
    for stride in STRIDES:
        if stride % step:
            out[f"stride{stride}"] = None
            continue
        sub = {uid: f[:: stride // step] for uid, f in forecasts.items()}
        out[f"stride{stride}"] = pdata.score(sub, panel, stride)
    return out


def pooled_line(row: dict[str, Any]) -> str:
    parts = []
    for stride in STRIDES:
        s = row.get(f"stride{stride}")
        if s is not None:
            p = s["pooled"]
            parts.append(f"stride {stride}: mse={p['mse']:.4f} mae={p['mae']:.4f} "
                         f"vs snaive={p['mse_vs_snaive']:.3f}")
    return " | ".join(parts)


# --------------------------------------------------------------------------------- NHITS

def run_nhits(panel: pd.DataFrame, seed: int) -> dict[str, Any]:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import NHITS as NHITSModel

    model = NHITSModel(random_seed=seed, alias=NHITS_NAME, enable_progress_bar=False,
                       enable_model_summary=False, logger=False, **NHITS)
    nf = NeuralForecast(models=[model], freq=pdata.FREQ)
    began = time.perf_counter()
    out = nf.cross_validation(pdata.standardise(panel), val_size=pdata.VAL_ROWS,
                              test_size=pdata.TEST_ROWS, n_windows=None, step_size=1,
                              refit=False, verbose=False)
    seconds = time.perf_counter() - began
    forecasts = pdata.destandardise(pdata.forecasts_from_long(out, NHITS_NAME, panel), panel)
    fitted = nf.models[0]
    steps = int(fitted.train_trajectories[-1][0]) + 1 if fitted.train_trajectories else None
    checks = [(int(step), float(loss)) for step, loss in fitted.valid_trajectories]
    return {"seed": seed, **scores(forecasts, panel, 1), "steps": steps,
            "stopped_early": steps is not None and steps < fitted.max_steps,
            "wall_seconds": seconds, "validation_checks": checks}


def summary(runs: list[dict[str, Any]], stride: int) -> dict[str, Any]:
    """Mean and std (ddof 1; None for one run) over seeds of the pooled and per-series
    scores at `stride`."""
    rows = [r[f"stride{stride}"] for r in runs]

    def stats(values: list[float]) -> dict[str, float | None]:
        return {"mean": float(np.mean(values)),
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else None}

    return {"seeds": len(rows),
            "pooled": {m: stats([r["pooled"][m] for r in rows]) for m in METRICS},
            "series": {uid: {m: stats([r["series"][uid][m] for r in rows]) for m in METRICS}
                       for uid in pdata.SERIES_IDS}}


# ---------------------------------------------------------------------------- statsforecast

def run_stats(panel: pd.DataFrame, name: str, step: int) -> dict[str, Any]:
    from statsforecast import StatsForecast
    from statsforecast import models as sfm

    model = getattr(sfm, STATS_NAMES[name])(season_length=pdata.SEASON, alias=name)
    n_windows = {pdata.n_windows(n, step) for n in pdata.lengths(panel).values()}
    if len(n_windows) != 1:
        raise RuntimeError(f"series have different window counts at step {step}: {n_windows}")
    sf = StatsForecast(models=[model], freq=pdata.FREQ, n_jobs=1)
    began = time.perf_counter()
    out = sf.cross_validation(df=pdata.standardise(panel), h=pdata.HORIZON, step_size=step,
                              n_windows=n_windows.pop(), refit=False)
    seconds = time.perf_counter() - began
    forecasts = pdata.destandardise(pdata.forecasts_from_long(out, name, panel, step), panel)
    return {**scores(forecasts, panel, step), "step_size": step, "wall_seconds": seconds}


# ---------------------------------------------------------------------------------- report

def run(models: list[str], seeds: int, arima_step: int, ets_step: int, out: Path) -> Path:
    import torch

    panel = pdata.load_panel()
    naive = {f"stride{s}": pdata.score(pdata.seasonal_naive(panel, s), panel, s)["snaive"]
             for s in STRIDES}
    steps = {"autoets-sf": ets_step, "autoarima-sf": arima_step}
    report: dict[str, Any] = {
        "benchmark": "panel", "protocol": pdata.protocol_record(), "seasonal_naive": naive,
        "machine": {**machine_info(), "torch_threads": torch.get_num_threads()},
        "versions": versions(), "started_utc": now(), "models": {}}
    for name in models:
        if name == NHITS_NAME:
            entry = report["models"][name] = {
                "library": "neuralforecast", "params": dict(NHITS, max_steps="default (1000)",
                                                            others="NeuralForecast defaults"),
                "fitted_on": "training rows; validation rows for early stopping only",
                "early_stopping": "weights at the stopping step are used (the best checkpoint "
                                  "is not restored)", "step_size": 1, "runs": []}
            for seed in range(seeds):
                row = run_nhits(panel, seed)
                print(f"{name} seed {seed}: {pooled_line(row)} | steps={row['steps']} "
                      f"{row['wall_seconds']:.0f}s", flush=True)
                entry["runs"].append(row)
                entry["summary"] = {f"stride{s}": summary(entry["runs"], s) for s in STRIDES}
                entry["wall_seconds_total"] = float(sum(r["wall_seconds"]
                                                        for r in entry["runs"]))
                report["finished_utc"] = now()
                write_json_atomic(out, report)
        else:
            step = steps[name]
            row = run_stats(panel, name, step)
            report["models"][name] = {
                "library": "statsforecast",
                "params": {"model": STATS_NAMES[name], "season_length": pdata.SEASON,
                           "others": "statsforecast defaults"},
                "fitted_on": "training + validation rows, once per series; test windows "
                             "forecast by forward() without re-estimating",
                "scored_at": "stride 1 and every 24th window" if step == 1 else
                             f"every {step}th window only (cross_validation step_size={step})",
                **row}
            print(f"{name} (step {step}): {pooled_line(row)} | {row['wall_seconds']:.0f}s",
                  flush=True)
            report["finished_utc"] = now()
            write_json_atomic(out, report)
    return out


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", type=int, default=3, help="NHITS seeds 0..N-1")
    parser.add_argument("--arima-step", type=int, choices=(1, pdata.PEER_STRIDE),
                        default=pdata.PEER_STRIDE)
    parser.add_argument("--ets-step", type=int, choices=(1, pdata.PEER_STRIDE), default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--without-ray", action="store_true",
                        help="an inert stand-in for ray, which neuralforecast imports")
    args = parser.parse_args(argv)
    if args.without_ray:
        stand_in_for_ray()
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    print(run(args.models, args.seeds, args.arima_step, args.ets_step, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
