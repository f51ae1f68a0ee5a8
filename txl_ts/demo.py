"""`python -m txl_ts demo`: the weather and load backtest, TXL against ARIMA, LSTM and naive.

On one load data set (ETTh1) and the weather data (WTH), at one horizon, every model is fitted
on the protocol's training split (validation split for early stopping) and scored on every
stride-1 window of the test split, as in `txl_ts.benchmark`. The neural models get a reduced
training budget, ARIMA a fixed order, and every model is fitted on at most the latest 8,640
rows (12 months) of the training split, so that the whole run is short: 76 s measured (ETTh1
22 s, WTH 47 s, the rest imports and plots) on a shared 2-core Intel Xeon with a load average
near 5, one torch thread per fit (`txl_ts.threads`). Metrics still use the protocol's scaler,
fitted on the whole training split. A line per model and data set reports its time and the
time elapsed. The full versions are `examples/backtest_load.py` and
`examples/backtest_weather.py`.

It prints a markdown table and writes into `--out` (default `demo_output/`):
`results.md`, `results.json`, `forecasts_<data>.png` (forecast vs actual for a few windows,
with TXL's conformal 80% and 95% bands) and `error_by_step_<data>.png` (scaled MSE by
horizon step). The table includes every model's test coverage of its 80% / 95% intervals.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from . import datasets
from .backtest import BacktestResult, backtest
from .benchmark import COVERAGE, MASE_LAG, load_protocol, machine_info, make_model

DATASETS = {"load": "ETTh1", "weather": "WTH"}
# Reduced budgets for the quick run: epochs, and training batches per epoch.
QUICK = {"max_epochs": 4, "limit_train_batches": 25}
QUICK_TRAIN_ROWS = 8640  # quick run: fit on the latest 12 months of a longer training split
QUICK_LSTM = {"lookback": 96, "batch_size": 32, "window_step": 8}  # its defaults are slow on CPU


def build_models(horizon: int, seed: int, quick: bool) -> dict[str, Any]:
    """Unfitted models of the comparison; `quick` caps the neural models' training budget."""
    epochs = QUICK["max_epochs"] if quick else None
    params = {"arima": {"order": (1, 1, 1)}, "lstm": QUICK_LSTM} if quick else None
    models = {
        "txl": make_model("txl", horizon, seed, epochs),
        "lstm": make_model("lstm", horizon, seed, epochs, model_params=params),
        "arima": make_model("arima", horizon, seed, model_params=params),
        "naive": make_model("naive", horizon),
        "snaive": make_model("snaive", horizon),
    }
    if not quick:
        models["txl-nomem"] = make_model("txl-nomem", horizon, seed)
    limits = {"limit_train_batches": QUICK["limit_train_batches"]} if quick else {}
    for name in ("txl", "txl-nomem", "lstm"):
        if name in models:
            models[name].set_params(trainer_kwargs={"enable_progress_bar": False, **limits})
    return models


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def run_dataset(dataset: str, horizon: int, seed: int, quick: bool, log=print,
                run_started: float | None = None) -> tuple[BacktestResult, Any, float]:
    """Backtest the demo's models on `dataset`; one line per model as each finishes, with
    the time since `run_started` (a `time.perf_counter()` value; default: this call)."""
    df, split = load_protocol(dataset, "M")
    # metrics always use the protocol's scaler, fitted on the whole training split
    window: dict[str, Any] = {"scaler": StandardScaler().fit(df.iloc[: split.train_end])}
    if quick and split.train_end > QUICK_TRAIN_ROWS:
        window.update(window="sliding", train_size=QUICK_TRAIN_ROWS)
    models = build_models(horizon, seed, quick)
    log(f"{dataset}: fitting and backtesting {len(models)} models: {', '.join(models)}")
    started = time.perf_counter()

    def progress(name: str, seconds: float) -> None:
        log(f"  {dataset} {name:8s} done in {seconds:6.1f} s  (elapsed "
            f"{_clock(time.perf_counter() - (run_started or started))})")

    result = backtest(models, df, horizon, start=split.test_start,
                      end=split.end, train_end=split.train_end, mase_lag=MASE_LAG,
                      coverage=list(COVERAGE), progress=progress, **window)
    seconds = time.perf_counter() - started
    log(f"{dataset}: {result.n_windows} test windows, {seconds:.0f} s")
    return result, df, seconds


def table(results: dict[str, BacktestResult]) -> str:
    lines = ["| data | model | MSE | MAE | MASE | sMAPE % | cover 80 / 95 % | fit s | "
             "predict s | windows |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for data, result in results.items():
        best = result.metrics["mse"].idxmin()
        for name, row in result.metrics.iterrows():
            mark = " **(best)**" if name == best else ""
            lines.append(
                f"| {data} | {name}{mark} | {row['mse']:.4f} | {row['mae']:.4f} | "
                f"{row['mase']:.3f} | {row['smape']:.1f} | {_cover(row)} | "
                f"{row['fit_seconds']:.1f} | "
                f"{row['predict_seconds']:.2f} | {int(row['n_windows'])} |"
            )
    return "\n".join(lines)


def _cover(row) -> str:
    if "coverage_80" not in row or "coverage_95" not in row:
        return "-"
    return f"{100 * row['coverage_80']:.1f} / {100 * row['coverage_95']:.1f}"


def plot(result: BacktestResult, df, dataset: str, out: Path,
         band_model: str = "txl") -> list[Path]:
    """Forecast plots of three test windows (with `band_model`'s 95% and 80% bands, or the
    first model's that has intervals) and the error by horizon step (`txl_ts.plotting`)."""
    from matplotlib.figure import Figure

    from .plotting import plot_backtest_errors, plot_backtest_window

    target = datasets.TARGETS[dataset]
    picks = np.linspace(0, result.n_windows - 1, 3).round().astype(int)
    fig = Figure(figsize=(10, 3.2 * len(picks)), layout="constrained")
    banded = band_model if band_model in result.half_widths else next(
        iter(result.half_widths), None)
    # only one model's bands: several overlapping ones hide the forecasts
    shown = replace(result, half_widths={k: v for k, v in result.half_widths.items()
                                         if k == banded})
    for ax, w in zip(fig.subplots(len(picks), 1, squeeze=False)[:, 0], picks):
        plot_backtest_window(shown, int(result.cutoffs[w]), history=df, column=target, ax=ax)
        ax.set_title(f"{dataset} {target}: forecast from {df.index[int(result.cutoffs[w])]}")
    forecasts_png = out / f"forecasts_{dataset}.png"
    fig.savefig(forecasts_png, dpi=90)
    error_png = out / f"error_by_step_{dataset}.png"
    fig = plot_backtest_errors(result)
    fig.axes[0].set_title(f"{dataset}: error by horizon step over {result.n_windows} test "
                          "windows")
    fig.savefig(error_png, dpi=90)
    return [forecasts_png, error_png]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `demo` sub-command's options (defined in `txl_ts.cli`)."""
    from .cli import add_demo_arguments

    add_demo_arguments(parser)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    quick = not args.full
    results, written, seconds = {}, [], {}
    started = time.perf_counter()
    for key in args.data.split(","):
        if key.strip() not in DATASETS:
            raise ValueError(f"--data: unknown {key.strip()!r}; choose from {list(DATASETS)}")
    for key in args.data.split(","):
        dataset = DATASETS[key.strip()]
        result, df, seconds[dataset] = run_dataset(
            dataset, args.horizon, args.seed, quick,
            log=lambda msg: print(msg, flush=True), run_started=started)
        results[dataset] = result
        written += plot(result, df, dataset, out)
    text = table(results)
    setting = (f"quick: neural models capped at {QUICK['max_epochs']} epochs x "
               f"{QUICK['limit_train_batches']} batches, LSTM lookback "
               f"{QUICK_LSTM['lookback']} on every {QUICK_LSTM['window_step']}th window, "
               f"ARIMA(1,1,1); models fitted on at most the last {QUICK_TRAIN_ROWS} rows "
               "of the training split") if quick else "full"
    header = (f"Backtest at horizon {args.horizon}, seed {args.seed}, {setting}. MSE/MAE on "
              "train-scaled values over every stride-1 test window; MASE against the "
              "training part's seasonal-naive (24 h) error.\n")
    machine = machine_info()
    footer = f"\nMachine: {machine.get('cpu')}, {machine.get('cores')} cores, " \
             f"torch {machine.get('torch')}; run time " + \
             ", ".join(f"{d} {s:.0f} s" for d, s in seconds.items()) + "\n"
    (out / "results.md").write_text(header + "\n" + text + "\n" + footer)
    (out / "results.json").write_text(json.dumps({
        "horizon": args.horizon, "seed": args.seed, "setting": setting, "machine": machine,
        "seconds": seconds,
        "metrics": {d: r.metrics.to_dict(orient="index") for d, r in results.items()},
    }, indent=2, default=float))
    print(header)
    print(text)
    print(footer)
    print("wrote", ", ".join(str(p) for p in [out / "results.md", *written]))
    return 0
