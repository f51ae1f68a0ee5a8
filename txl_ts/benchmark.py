"""The standard long-horizon benchmark protocol, and `python -m txl_ts benchmark`.

Protocol (as in the Informer / Autoformer / PatchTST line of work, but scoring every window):

* ETTh1, ETTh2: train = rows 0..8639, validation = 8640..11519, test = 11520..14399.
* WTH: 70/10/20 in time order (Time-Series-Library convention): train = the first
  int(0.7 n) rows, test = the last int(0.2 n) rows, validation between.
* Models are fitted on train, with validation as `validation_data` (early stopping only).
  The test inputs may reach back into earlier rows; the test rows are used only for scoring.
* A StandardScaler fitted on train only; MSE / MAE on scaled values over all columns, all
  horizon steps and every stride-1 test window (no drop_last).
* "M": all columns in and out; "S": the target column only (OT; WetBulbCelsius for WTH).

`--rows N` truncates a data set to its first N rows and splits it in the same proportions
(ETTh: 60/20/20), for quick runs; such results are not comparable with the full protocol.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import datasets
from .backtest import backtest

HORIZONS = (96, 192, 336, 720)
MODELS = ("txl", "txl-nomem", "lstm", "arima", "naive", "snaive")
STOCHASTIC = ("txl", "txl-nomem", "lstm")
METRICS = ("mse", "mae", "mse_orig", "mae_orig", "smape", "mase", "fit_seconds",
           "predict_seconds")
ETT_BORDERS = (8640, 11520, 14400)  # 12 / 4 / 4 months of hourly rows
MASE_LAG = 24  # MASE scaled by the training part's in-sample seasonal-naive (24 h) error


@dataclass(frozen=True)
class Split:
    """Row borders: train = [0, train_end), validation = [train_end, test_start),
    test = [test_start, end)."""

    train_end: int
    test_start: int
    end: int

    def as_dict(self) -> dict[str, int]:
        return {"train_end": self.train_end, "test_start": self.test_start, "end": self.end}


def split_rows(dataset: str, n_rows: int, truncated: bool = False) -> Split:
    """The protocol's borders for `dataset` with `n_rows` rows (proportional if truncated)."""
    if dataset in ("ETTh1", "ETTh2"):
        if not truncated:
            if n_rows < ETT_BORDERS[-1]:
                raise ValueError(f"{dataset} needs {ETT_BORDERS[-1]} rows, has {n_rows}")
            return Split(*ETT_BORDERS)
        return Split(int(0.6 * n_rows), int(0.8 * n_rows), n_rows)
    if dataset == "WTH":
        n_test = int(0.2 * n_rows)
        return Split(int(0.7 * n_rows), n_rows - n_test, n_rows)
    raise ValueError(f"unknown data set {dataset!r}; choose one of {list(datasets.NAMES)}")


def load_protocol(dataset: str, features: str = "M",
                  rows: int | None = None) -> tuple[pd.DataFrame, Split]:
    """The frame (columns per `features`) and the split of the protocol."""
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' or 'S', got {features!r}")
    df = datasets.load(dataset)
    if rows is not None:
        if rows < 200 or rows > len(df):
            raise ValueError(f"rows must be in [200, {len(df)}], got {rows}")
        df = df.iloc[:rows]
    split = split_rows(dataset, len(df), truncated=rows is not None)
    df = df.iloc[: split.end]
    if features == "S":
        df = df[[datasets.TARGETS[dataset]]]
    return df, split


def _lazy(module: str, cls: str) -> type:
    try:
        return getattr(importlib.import_module(f"txl_ts.baselines.{module}"), cls)
    except (ImportError, AttributeError) as err:
        raise ImportError(f"{cls} is not available (txl_ts.baselines.{module}): {err}") from err


def make_model(name: str, horizon: int, seed: int | None = 0, max_epochs: int | None = None,
               txl_params: dict[str, Any] | None = None, accelerator: str = "auto",
               model_params: dict[str, dict[str, Any]] | None = None):
    """A fresh, unfitted forecaster for benchmark model `name`.

    `txl_params` go to both TXL variants; `model_params` maps "lstm" / "arima" to extra
    constructor parameters.
    """
    from .baselines.naive import NaiveForecaster

    if name == "naive":
        return NaiveForecaster(horizon=horizon, method="last")
    if name == "snaive":
        return NaiveForecaster(horizon=horizon, method="seasonal", season=24)
    if name in ("txl", "txl-nomem"):
        from .forecaster import TXLForecaster

        model = TXLForecaster(horizon=horizon)
        model.set_params(**(txl_params or {}))
        if name == "txl-nomem":
            model.set_params(mem_len=0)
    elif name == "lstm":
        model = _lazy("lstm", "LSTMForecaster")(horizon=horizon)
        model.set_params(**(model_params or {}).get("lstm", {}))
    elif name == "arima":
        model = _lazy("arima", "ARIMAForecaster")(horizon=horizon)
        model.set_params(**(model_params or {}).get("arima", {}))
    else:
        raise ValueError(f"unknown model {name!r}; choose from {list(MODELS)}")
    params = model.get_params(deep=False)
    extra = {"random_state": seed, "max_epochs": max_epochs, "accelerator": accelerator,
             "trainer_kwargs": {"enable_progress_bar": False}}
    model.set_params(**{k: v for k, v in extra.items()
                        if k in params and v is not None and not (k == "trainer_kwargs"
                                                                  and params[k])})
    return model


def _git(args: list[str]) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, library versions and GPU name (if any) of this machine."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    commit, dirty = _git(["rev-parse", "HEAD"]), _git(["status", "--porcelain", "-uno", "."])
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "hostname": platform.node(), "git_commit": commit,
            "uncommitted_changes": dirty.splitlines() if dirty else [],
            "load_average_1m": os.getloadavg()[0]}


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def _summary(runs: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float | None]]:
    mean, std = {}, {}
    for key in METRICS:
        vals = np.array([r[key] for r in runs], dtype=float)
        mean[key] = float(vals.mean())
        std[key] = float(vals.std(ddof=1)) if len(vals) > 1 else None
    return mean, std


def run_benchmark(dataset: str, horizon: int, models: list[str], *, features: str = "M",
                  seeds: int = 1, max_epochs: int | None = None,
                  txl_params: dict[str, Any] | None = None, rows: int | None = None,
                  accelerator: str = "auto", model_params: dict[str, dict[str, Any]] | None = None,
                  log=print) -> dict[str, Any]:
    """Run the protocol for every model; returns the JSON-ready report.

    Stochastic models (txl, txl-nomem, lstm) run with seeds 0..seeds-1 and report mean and
    sample std (ddof=1); deterministic ones run once. A model that fails is reported with
    its error instead of metrics.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {list(MODELS)}")
    df, split = load_protocol(dataset, features, rows)
    began = time.perf_counter()
    report: dict[str, Any] = {
        "dataset": dataset, "features": features, "horizon": horizon,
        "rows": len(df), "truncated": rows is not None, "split": split.as_dict(),
        "columns": list(df.columns), "mase_lag": MASE_LAG,
        "protocol": "train-only StandardScaler; MSE/MAE on scaled values over every stride-1 "
                    "test window, all columns and horizon steps (no drop_last)",
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(), "argv": sys.argv, "max_epochs": max_epochs,
        "txl_params": txl_params or {}, "model_params": model_params or {}, "models": {},
    }
    for name in models:
        seed_list = list(range(seeds)) if name in STOCHASTIC else [None]
        runs, errors, params = [], [], None
        for seed in seed_list:
            log(f"[{datetime.now(timezone.utc):%H:%M:%S}] {dataset} {features} H={horizon} "
                f"{name} seed={seed}")
            try:
                model = make_model(name, horizon, seed, max_epochs, txl_params, accelerator,
                                   model_params)
                params = model.get_params(deep=False)
                result = backtest({name: model}, df, horizon, start=split.test_start,
                                  end=split.end, train_end=split.train_end,
                                  mase_lag=MASE_LAG, keep_forecasts=False)
            except Exception as err:  # noqa: BLE001 - reported, the other models still run
                errors.append({"seed": seed, "error": f"{type(err).__name__}: {err}"})
                log(f"  failed: {type(err).__name__}: {err}")
                continue
            row = {k: float(v) for k, v in result.metrics.loc[name].items()}
            row["seed"] = seed
            row["n_windows"] = int(result.n_windows)
            fitted = result.models[name]
            row["fit_summary"] = getattr(fitted, "fit_summary_", None)
            report["n_windows"] = int(result.n_windows)
            runs.append(row)
            log(f"  mse={row['mse']:.4f} mae={row['mae']:.4f} fit={row['fit_seconds']:.1f}s "
                f"predict={row['predict_seconds']:.2f}s windows={result.n_windows}")
        entry: dict[str, Any] = {"seeds": seed_list, "runs": runs, "errors": errors,
                                 "params": params}
        if runs:
            entry["mean"], entry["std"] = _summary(runs)
        report["models"][name] = entry
    report["runtime_seconds"] = time.perf_counter() - began
    report["load_average_1m_end"] = os.getloadavg()[0]
    report["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return _json_safe(report)


def _fmt(mean: float | None, std: float | None, digits: int = 4) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(report: dict[str, Any]) -> str:
    """One row per model: scaled MSE / MAE (mean ± std over seeds), sMAPE, MASE, timings."""
    lines = [
        f"{report['dataset']} {report['features']} horizon {report['horizon']}, "
        f"{report.get('n_windows', 'n/a')} windows"
        + (f" (truncated to {report['rows']} rows)" if report.get("truncated") else ""),
        "",
        "| model | seeds | MSE | MAE | sMAPE % | MASE | fit s | predict s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in report["models"].items():
        if "mean" not in entry:
            err = entry["errors"][0]["error"] if entry["errors"] else "no run"
            lines.append(f"| {name} | - | failed: {err[:80]} | | | | | |")
            continue
        m, s = entry["mean"], entry["std"]
        n = len(entry["runs"])
        lines.append(
            f"| {name} | {n} | {_fmt(m['mse'], s['mse'])} | {_fmt(m['mae'], s['mae'])} | "
            f"{_fmt(m['smape'], None, 2)} | {_fmt(m['mase'], None, 3)} | "
            f"{_fmt(m['fit_seconds'], None, 1)} | {_fmt(m['predict_seconds'], None, 2)} |"
        )
    return "\n".join(lines)


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"a model parameter is key=value, got {text!r}")
    key, raw = text.split("=", 1)
    for parse in (json.loads, ast.literal_eval):
        try:
            return key.strip(), parse(raw)
        except (ValueError, SyntaxError):
            pass
    return key.strip(), raw


def _models_arg(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown models {unknown}; choose from {list(MODELS)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=datasets.NAMES)
    parser.add_argument("--horizon", type=int, default=96, help="forecast horizon (96, 192, "
                        "336, 720 in the standard protocol)")
    parser.add_argument("--models", type=_models_arg, default=["naive", "snaive"],
                        help=f"comma-separated, from {','.join(MODELS)}")
    parser.add_argument("--features", choices=("M", "S"), default="M",
                        help="M: all columns in and out; S: the target column only")
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds 0..N-1 for the neural models (mean ± std)")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--txl-param", type=_parse_param, action="append", default=[],
                        metavar="KEY=VALUE", help="TXLForecaster parameter (repeatable)")
    for name in ("lstm", "arima"):
        parser.add_argument(f"--{name}-param", type=_parse_param, action="append", default=[],
                            metavar="KEY=VALUE", help=f"{name} parameter (repeatable)")
    parser.add_argument("--rows", type=int, default=None,
                        help="quick run: truncate the data set to its first N rows")
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1")
    report = run_benchmark(
        args.dataset, args.horizon, args.models, features=args.features, seeds=args.seeds,
        max_epochs=args.max_epochs, txl_params=dict(args.txl_param), rows=args.rows,
        accelerator=args.accelerator,
        model_params={"lstm": dict(args.lstm_param), "arima": dict(args.arima_param)},
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(markdown_table(report))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.out}")
    failed = any(e["errors"] for e in report["models"].values())
    return 1 if failed else 0
