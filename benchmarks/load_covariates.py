"""The library's models with and without covariates, on two load tasks.

* `elecdemand`: half-hourly demand of Victoria, 2014, with Temperature and WorkDay known ahead
  (plus calendar features and Victorian holidays), on the protocol of `benchmarks.elecdemand`
  (70/10/20, every stride-1 test window, standardised MSE / MAE of Demand). Needs the optional
  extra: `pip install "txl-ts[data]"`.
* `etth1-ms`: ETTh1's OT as the target with the six load columns as past covariates (the "MS"
  setting of the exogenous-variable papers), against OT alone, on the standard ETTh1 split
  (12/4/4 months), every stride-1 test window, MSE / MAE of OT standardised by its training
  rows.

Every neural model runs at its defaults, with early stopping on the validation rows, for each
seed; the epochs run are recorded. The report is rewritten after every run, and a rerun skips
the runs already in it, so an interrupted run resumes:

    OMP_NUM_THREADS=1 python -m benchmarks.load_covariates elecdemand --horizon 48 --seeds 3
    OMP_NUM_THREADS=1 python -m benchmarks.load_covariates etth1-ms --horizon 96 --seeds 3
    python -m benchmarks.load_covariates table    # the markdown tables of docs/results.md

Forecasts come from each fitted model's `rolling_forecasts` over the whole frame, which reads
the targets up to each origin and the future covariates of the horizon after it (here the
observed values: an optimistic bound for a forecaster who would use weather forecasts).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from txl_ts import TXLForecaster
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster
from txl_ts.benchmark import machine_info, write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "load_covariates"
ETT_LOAD = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]
ELEC_ROLES = dict(targets=["Demand"], future_covariates=["Temperature", "WorkDay"],
                  calendar="auto", holidays=("AU", "VIC"))
NEURAL = ("txl", "lstm", "dlinear")


def builders(roles: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """name -> constructor(horizon, seed); "+cov" variants take `roles`."""
    target = {"targets": roles["targets"]}
    kinds = {"txl": TXLForecaster, "lstm": LSTMForecaster, "dlinear": DLinearForecaster}
    out: dict[str, Callable[..., Any]] = {}
    for name, cls in kinds.items():
        out[name] = lambda h, seed, cls=cls: cls(horizon=h, random_state=seed, verbose=False,
                                                 **target)
        out[f"{name}+cov"] = lambda h, seed, cls=cls: cls(horizon=h, random_state=seed,
                                                          verbose=False, **roles)
    out["arima"] = lambda h, seed: ARIMAForecaster(horizon=h, **target)
    # ARIMA's Fourier terms already carry the daily and weekly cycles: calendar features on
    # top of them made its forecasts worse (docs/design.md), so its covariates leave them out
    no_calendar = {k: v for k, v in roles.items() if k != "calendar"}
    out["arima+cov"] = lambda h, seed: ARIMAForecaster(horizon=h, **no_calendar)
    out["snaive"] = lambda h, seed: NaiveForecaster(horizon=h, method="seasonal", **target)
    return out


def elecdemand_task() -> tuple[pd.DataFrame, Any, dict[str, Any]]:
    from benchmarks import elecdemand

    df = elecdemand.load()
    return df, elecdemand.split(len(df)), ELEC_ROLES


def etth1_task() -> tuple[pd.DataFrame, Any, dict[str, Any]]:
    from txl_ts.protocol import load_protocol

    df, split = load_protocol("ETTh1", "M")
    roles = dict(targets=["OT"], past_covariates=ETT_LOAD)
    return df, split, roles


TASKS = {"elecdemand": elecdemand_task, "etth1-ms": etth1_task}


def run_one(model: Any, df: pd.DataFrame, split: Any, h: int) -> dict[str, Any]:
    """Fit on train with validation rows, forecast every stride-1 test window, score the
    target standardised by its training rows."""
    target = model.targets[0]
    started = time.perf_counter()
    model.fit(df.iloc[: split.train_end],
              validation_data=df.iloc[split.train_end : split.test_start])
    fit_seconds = time.perf_counter() - started
    origins = np.arange(split.test_start - 1, len(df) - h)
    began = time.perf_counter()
    forecasts = np.concatenate([model.rolling_forecasts(df, chunk)[:, :, 0]
                                for chunk in np.array_split(origins, -(-len(origins) // 512))])
    predict_seconds = time.perf_counter() - began
    y = df[target].to_numpy()
    train = y[: split.train_end]
    actual = y[origins[:, None] + 1 + np.arange(h)]
    err = (forecasts - actual) / train.std()
    summary = getattr(model, "fit_summary_", {}) or {}
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err))),
            "n_windows": len(origins), "epochs": summary.get("epochs"),
            "best_epoch": summary.get("best_epoch"),
            "fit_seconds": fit_seconds, "predict_seconds": predict_seconds}


def run(task: str, horizon: int, seeds: int, models: list[str], out: Path) -> dict[str, Any]:
    df, split, roles = TASKS[task]()
    path = out / f"{task}_{horizon}.json"
    report = json.loads(path.read_text()) if path.is_file() else {
        "task": task, "horizon": horizon, "roles": {k: v for k, v in roles.items()},
        "split": {"train_end": split.train_end, "test_start": split.test_start,
                  "end": len(df)},
        "runs": {}}
    report["machine"] = machine_info()
    report["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    build = builders(roles)
    for name in models:
        n_seeds = seeds if name.split("+")[0] in NEURAL else 1
        for seed in range(n_seeds):
            key = f"{name}/seed{seed}"
            if key in report["runs"]:
                continue
            print(f"{task} H={horizon} {key} ...", file=sys.stderr, flush=True)
            result = run_one(build[name](horizon, seed), df, split, horizon)
            print(f"  mse {result['mse']:.4f}  mae {result['mae']:.4f}  epochs "
                  f"{result['epochs']}  fit {result['fit_seconds']:.0f} s", file=sys.stderr)
            report["runs"][key] = result
            write_json_atomic(path, report)
    return report


def summarise(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """model -> mean, std (over seeds), n of MSE and MAE."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for key, result in report["runs"].items():
        by_model.setdefault(key.split("/")[0], []).append(result)
    out = {}
    for name, results in by_model.items():
        mse = np.array([r["mse"] for r in results])
        mae = np.array([r["mae"] for r in results])
        out[name] = {"mse": float(mse.mean()), "mse_std": float(mse.std()),
                     "mae": float(mae.mean()), "mae_std": float(mae.std()),
                     "n": len(results), "epochs": [r["epochs"] for r in results]}
    return out


def reference_rows(horizon: int) -> list[str]:
    """Rows for the closed-form references and the NHITS peer of `benchmarks.elecdemand`
    (their own reports), scored on the same stride-1 windows."""
    folder = Path(__file__).resolve().parent / "results" / "elecdemand"
    rows = []
    refs = folder / "references.json"
    if refs.is_file():
        results = json.loads(refs.read_text())["results"].get(f"H{horizon}", {})
        for name, entry in results.items():
            one = entry["stride1"]
            rows.append((one["mse"], f"| {name} (reference) | {one['mse']:.4f} | "
                                     f"{one['mae']:.4f} | 1 | closed form | |"))
    peer = folder / "nhits_peer.json"
    if peer.is_file() and json.loads(peer.read_text())["horizon"] == horizon:
        report = json.loads(peer.read_text())
        s1 = report["stride1"]
        steps = [r["steps"] for r in report["runs"]]
        rows.append((s1["mean_mse"], f"| NHITS + cov (NeuralForecast peer) | "
                                     f"{s1['mean_mse']:.4f} ± {s1['std_mse']:.4f} | "
                                     f"{s1['mean_mae']:.4f} | {len(steps)} | steps {steps} | |"))
    return [row for _, row in sorted(rows)]


def table(out: Path) -> str:
    lines = []
    for path in sorted(out.glob("*.json")):
        report = json.loads(path.read_text())
        rows = summarise(report)
        base = {name.split("+")[0]: row["mse"] for name, row in rows.items() if "+" not in name}
        lines += [f"**{report['task']}, horizon {report['horizon']}** "
                  f"({report['machine'].get('cpu', '?')}; {report['runs'] and len(rows)} models)",
                  "", "| model | MSE (mean ± sd) | MAE | seeds | epochs | with / without |",
                  "|---|---|---|---|---|---|"]
        for name, row in sorted(rows.items(), key=lambda kv: kv[1]["mse"]):
            plain = base.get(name.split("+")[0])
            ratio = f"{row['mse'] / plain:.2f}" if "+" in name and plain else ""
            lines.append(f"| {name} | {row['mse']:.4f} ± {row['mse_std']:.4f} | "
                         f"{row['mae']:.4f} | {row['n']} | {row['epochs']} | {ratio} |")
        if report["task"] == "elecdemand":
            lines += reference_rows(report["horizon"])
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=[*TASKS, "table"])
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", default="snaive,txl,txl+cov,dlinear,dlinear+cov,lstm,"
                                            "lstm+cov,arima,arima+cov")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.task == "table":
        print(table(args.out))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    models = args.models.split(",")
    unknown = [m for m in models if m not in builders(ELEC_ROLES)]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}")
    run(args.task, args.horizon, args.seeds, models, args.out)
    print(table(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
