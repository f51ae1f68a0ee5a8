"""Every model at its defaults against the seasonal naive on short real series: the check that
no baseline is a straw man.

    pip download --no-deps pmdarima==2.1.1 pvlib==0.16.1 -d wheels/
    python -m benchmarks.baseline_sanity --wheels wheels/ [--seeds 1] [--models dlinear]

Series (read from the wheels as `benchmarks.unseen_data` reads them; never downloaded here):
half-hourly electricity demand of England and Wales (`taylor`, one column) and the hourly
dry-bulb temperature of Greensboro NC and Sand Point AK (NREL TMY3, one column each). Each
model is fitted at its defaults on the first 3,000 rows (its own validation tail inside them)
and forecasts one day ahead (48 half-hours, 24 hours) from every 48th / 24th origin after
them. The score is the MSE over the seasonal naive's MSE on the same windows (the backtest's
`mse_vs_snaive`); the bar is 1.5.

`--models` reruns only the models named (after a change to one of them) and replaces their
cells in the `--out` report, keeping the others; the report's `reruns` lists each partial
rerun with its machine (and commit).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from benchmarks.common import RESULTS, machine
from benchmarks.unseen_data import taylor_frame, tmy3_frame
from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster

TRAIN_ROWS = 3000
BAR = 1.5
MODELS = {"txl": TXLForecaster, "lstm": LSTMForecaster, "dlinear": DLinearForecaster,
          "arima": ARIMAForecaster}
STOCHASTIC = ("txl", "lstm", "dlinear")


def series(wheels: Path) -> dict[str, tuple]:
    """name -> (one-column frame, horizon = stride = one day)."""
    return {"load (taylor)": (taylor_frame(wheels), 48),
            "temperature (Greensboro)": (tmy3_frame(wheels, "723170TYA.CSV")[["temp"]], 24),
            "temperature (Sand Point)": (tmy3_frame(wheels, "703165TY.csv")[["temp"]], 24)}


def run(wheels: Path, seeds: int, models: list[str] | None = None) -> dict:
    cells = []
    for name, (df, day) in series(wheels).items():
        for model_name, cls in MODELS.items():
            if models is not None and model_name not in models:
                continue
            for seed in range(seeds if model_name in STOCHASTIC else 1):
                params = {"horizon": day}
                if model_name in STOCHASTIC:
                    params["random_state"] = seed
                began = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = backtest({model_name: cls(**params),
                                       "snaive": NaiveForecaster(day, "seasonal")},
                                      df, day, TRAIN_ROWS, stride=day, keep_forecasts=False)
                ratio = float(result.metrics.loc[model_name, "mse_vs_snaive"])
                fitted = result.models[model_name]
                epochs = getattr(fitted, "fit_summary_", {}).get("epochs")
                cells.append({"series": name, "model": model_name, "seed": seed,
                              "mse_vs_snaive": ratio, "n_windows": int(result.n_windows),
                              "epochs": epochs, "seconds": time.perf_counter() - began})
                print(f"{name:26s} {model_name:8s} seed {seed}: {ratio:.2f} x snaive "
                      f"({result.n_windows} windows, epochs {epochs})", flush=True)
    return {"benchmark": "baseline_sanity", "machine": machine(), "train_rows": TRAIN_ROWS,
            "bar": BAR, "cells": cells}


def table(report: dict) -> list[str]:
    """Markdown: one row per model, one column per series (mean over seeds)."""
    names = list(dict.fromkeys(c["series"] for c in report["cells"]))
    lines = ["| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for model in MODELS:
        row = []
        for name in names:
            vals = [c["mse_vs_snaive"] for c in report["cells"]
                    if c["series"] == name and c["model"] == model]
            mean = sum(vals) / len(vals)
            row.append(f"{mean:.2f}" + (" (over 1.5)" if mean > report["bar"] else ""))
        lines.append(f"| {model} | " + " | ".join(row) + " |")
    return lines


def merge(report: dict, rerun: dict, models: list[str]) -> dict:
    """`report` with the cells of `models` replaced by those of `rerun`, in model order."""
    cells = [c for c in report["cells"] if c["model"] not in models] + rerun["cells"]
    order = {m: i for i, m in enumerate(MODELS)}
    names = list(dict.fromkeys(c["series"] for c in report["cells"] + rerun["cells"]))
    cells.sort(key=lambda c: (names.index(c["series"]), order[c["model"]], c["seed"]))
    reruns = [*report.get("reruns", []), {"models": models, "machine": rerun["machine"]}]
    return {**report, "cells": cells, "reruns": reruns}


def document(report: dict) -> str:
    """docs/baselines.md: the table, its machine and how to rerun it."""
    m = report["machine"]
    seeds = max(c["seed"] for c in report["cells"]) + 1
    reruns = [f" {', '.join(r['models'])} rerun alone after a change to it, at commit "
              f"{r['machine'].get('git_commit', '?')[:8]}"
              + (" with uncommitted changes" if r["machine"].get("uncommitted_changes") else "")
              + f", on {r['machine']['cpu']}, {r['machine']['cores']} cores, torch "
              f"{r['machine']['torch']}, {r['machine'].get('torch_threads', '?')} torch "
              f"thread(s); the other rows are from commit {m.get('git_commit', '?')[:8]}."
              for r in report.get("reruns", [])]
    return "\n".join([
        "# Baselines against the seasonal naive", "",
        "Each model at its defaults, fitted on the first 3,000 rows of a short real series and "
        "forecasting one day ahead from every day's origin after them; MSE over the seasonal "
        f"naive's MSE on the same windows (mean over {seeds} seed(s) for the neural models). "
        "A fitted model above 1.5 loses to repeating yesterday, and `backtest` warns about it.",
        "", "    python -m benchmarks.baseline_sanity --wheels wheels/", "",
        *table(report), "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}; the models ran with "
        "the library's own thread choice (one torch thread; no thread variable was set). "
        "Data: `benchmarks.unseen_data`'s wheels "
        "(pmdarima 2.1.1, pvlib 0.16.1)." + "".join(reruns) + " Where a model is over 1.5 "
        "it is a known weakness of that baseline on that series, not a tuned result.", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--models", help="comma-separated, from " + ",".join(MODELS)
                        + ": rerun only these and replace their cells in --out")
    parser.add_argument("--out", type=Path, default=RESULTS / "baseline_sanity.json")
    parser.add_argument("--doc", type=Path, default=Path("docs/baselines.md"))
    parser.add_argument("--render", action="store_true",
                        help="only rewrite --doc from the --out report")
    args = parser.parse_args(argv)
    if not args.render and args.wheels is None:
        parser.error("--wheels is needed unless --render")
    models = None if args.models is None else args.models.split(",")
    if models is not None and not set(models) <= set(MODELS):
        parser.error(f"--models: unknown {sorted(set(models) - set(MODELS))}")
    if args.render:
        report = json.loads(args.out.read_text())
    else:
        report = run(args.wheels, args.seeds, models)
        if models is not None:
            report = merge(json.loads(args.out.read_text()), report, models)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    args.doc.write_text(document(report))
    print("\n".join(table(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
