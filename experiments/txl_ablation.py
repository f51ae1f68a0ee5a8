"""Ablation of TXL's accuracy design, one parameter changed at a time, on the standard protocol.

Each variant is the default `TXLForecaster` with the parameters of `VARIANTS`; every cell is
fitted on the train split, early-stopped on the validation split and scored on every stride-1
test window (`txl_ts.benchmark`). Results go to benchmarks/results/txl_ablation.json
(finished cells are skipped on a rerun); `python -m benchmarks.report` then renders them
into docs/benchmarks.md section 4, with the variants' descriptions in
`benchmarks.records.VARIANT_CHANGES`.

The results files also hold variants that changed code rather than parameters (the network
untrained, the linear path frozen, a normalised loss, off-grid windows, no level change, no
channel embedding, a recent-rows MLP, every lag scored): they were measured by swapping parts
of the package, their conclusions are recorded, and they no longer run.

    OMP_NUM_THREADS=1 python -m experiments.txl_ablation --datasets ETTh1,ETTh2 --seeds 1
    python -m experiments.txl_ablation --table
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import EMAWeightAveraging

from benchmarks.common import RESULTS, machine
from benchmarks.records import ablation_table
from txl_ts.backtest import backtest
from txl_ts.benchmark import dataset_label, load_protocol, make_model, seasons_of

OUT = RESULTS / "txl_ablation.json"
QUIET = {"enable_progress_bar": False}

# name -> the TXLForecaster parameters that differ from the default; the report describes each
# in `benchmarks.records.VARIANT_CHANGES`
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "nomem": {"mem_len": 0},
    "seasonal-init": {"linear_init": "seasonal"},
    "no-burn-in": {"burn_in": 0},
    "burn-in2": {"burn_in": 2},
    "burn-in1": {"burn_in": 1},
    "stateful": {"stateful": True, "burn_in": 0},
    "patch16": {"patch_len": 16, "stride": 8},
    "mse": {"loss": "mse"},
    "lr1e-3": {"lr": 1e-3},
    "norm96": {"norm_window": 96},
    "revin-scale": {"norm_scale": True},
    "mae": {"loss": "mae"},
    "dropout0.3": {"dropout": 0.3},
    "wd0.05": {"weight_decay": 0.05},
    "d32": {"d_model": 32, "d_ff": 64},
    "mem48": {"mem_len": 48},
    "mem48-burn6": {"mem_len": 48, "n_segments": 8, "burn_in": 6},
    "lr1e-4": {"lr": 1e-4},
    "val-quarter-epoch": {"trainer_kwargs": {**QUIET, "val_check_interval": 0.25}},
    "n-segments6": {"n_segments": 6},
    "max-epochs60": {"max_epochs": 60},
    "ema": {"trainer_kwargs": {**QUIET, "callbacks": [EMAWeightAveraging(decay=0.95)]}},
    "stride12": {"stride": 12},
    "stride24": {"stride": 24},
    "segment16": {"segment_len": 16},
    "layers3": {"n_layers": 3},
    "batch8": {"batch_size": 8},
    "lookback28": {"lookback": 28},
    "lookback56": {"lookback": 56},
}


def run_cell(dataset: str, horizon: int, variant: str, seed: int) -> dict[str, Any]:
    params = VARIANTS[variant]
    df, split = load_protocol(dataset, "M")
    model = make_model("txl", horizon, seed, txl_params=params)
    started = time.perf_counter()
    result = backtest({"txl": model}, df, horizon, start=split.test_start, end=split.end,
                      train_end=split.train_end, mase_lag=seasons_of(df)[0] or 1,
                      keep_forecasts=False)
    metrics = result.metrics.loc["txl"]
    summary = result.models["txl"].fit_summary_
    return {"dataset": dataset_label(dataset), "horizon": horizon, "variant": variant,
            "seed": seed,
            "mse": float(metrics["mse"]), "mae": float(metrics["mae"]),
            "best_val_loss": summary.get("best_val_loss"), "epochs": summary.get("epochs"),
            "stopped_early": summary.get("stopped_early"),
            "ridge_alpha": summary.get("linear_init_alpha"),
            "ridge_val_mse": summary.get("linear_init_val_mse"),
            "fit_seconds": summary.get("fit_seconds"),
            "run_seconds": time.perf_counter() - started,
            "params": json.loads(json.dumps(params, default=repr))}


def _load(out: Path) -> dict[str, Any]:
    return json.loads(out.read_text()) if out.exists() else {"cells": []}


def run(datasets: list[str], horizons: list[int], variants: list[str], seeds: int,
        out: Path) -> None:
    report = _load(out)
    done = {(c["dataset"], c["horizon"], c["variant"], c["seed"]) for c in report["cells"]}
    for dataset in datasets:
        for horizon in horizons:
            for variant in variants:
                for seed in range(seeds):
                    if (dataset_label(dataset), horizon, variant, seed) in done:
                        continue
                    cell = run_cell(dataset, horizon, variant, seed)
                    cell["machine"] = machine()
                    report["cells"].append(cell)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    tmp = out.with_suffix(".tmp")
                    tmp.write_text(json.dumps(report, indent=1))
                    tmp.replace(out)
                    print(f"{dataset_label(dataset)}-{horizon} {variant:14s} seed={seed} "
                          f"mse={cell['mse']:.4f} "
                          f"val={cell['best_val_loss']} epochs={cell['epochs']} "
                          f"fit={cell['fit_seconds']:.0f}s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ETTh1,ETTh2")
    parser.add_argument("--horizons", default="96")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--table", action="store_true", help="only print the table")
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON")
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; they run: {', '.join(VARIANTS)}")
    if not args.table:
        torch.set_num_threads(1)
        run(args.datasets.split(","), [int(h) for h in args.horizons.split(",")], variants,
            args.seeds, args.out)
    print(ablation_table(_load(args.out)["cells"]))
    print("docs/benchmarks.md: python -m benchmarks.report")


if __name__ == "__main__":
    main()
