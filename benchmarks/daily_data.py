"""Daily data: the bundled hourly series averaged per day, through the benchmark protocol,
with the half-stride default checked against the whole-patch stride.

    python -m benchmarks.daily_data [--seeds 3] [--jobs 2]

Each of ETTh1, ETTh2 and WTH becomes one row per complete day (the mean of its 24 hours; a
last, incomplete day is dropped) in `<data-dir>/<name>_daily.csv`. Daily data gets
`patch_len=7` (a week) from the frequency rule, so horizons 7 and 14 (at most two patches)
take the half stride 3 by default and 28 the whole patch. Every library model runs at its
defaults on the 70/10/20 split ("M", every stride-1 test window; reports in
`benchmarks/results/daily/`), and TXL runs again with `stride=7` at horizons 7 and 14
(`benchmarks/results/daily/stride7/`). BENCHMARKS.md section 7 by `python -m
benchmarks.report`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.common import RESULTS
from benchmarks.unseen_data import LABELS, _fmt, cell_table, load_cells, machines

OUT = RESULTS / "daily"
DATASETS = ("ETTh1", "ETTh2", "WTH")
HORIZONS = (7, 14, 28)
MODELS = ["txl", "txl-nomem", "lstm", "dlinear", "arima", "naive", "snaive"]
TUNED = "txl-tuned"
LABELS_DAILY = {"txl": "TXL", TUNED: "TXL tuned",
                **{k: v for k, v in LABELS.items() if k in MODELS and k != "txl"},
                "snaive": "seasonal naive (week)"}


def write_csvs(data_dir: Path) -> dict[str, Path]:
    """Each bundled data set's complete days as `<data_dir>/<name>_daily.csv`."""
    from txl_ts import datasets

    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in DATASETS:
        hourly = datasets.load(name)
        hours = hourly.resample("D").size()
        daily = hourly.resample("D").mean()[hours == 24]
        daily.index.name = "date"
        paths[name] = data_dir / f"{name}_daily.csv"
        daily.to_csv(paths[name])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("daily_data"))
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tune-trials", type=int, default=20,
                        help="Optuna trials per cell for the tuned TXL (0: skip it)")
    args = parser.parse_args(argv)
    from txl_ts.grid import Settings, run_grid

    files = [str(p) for p in write_csvs(args.data_dir).values()]
    result = run_grid(files, list(HORIZONS), args.models.split(","), seeds=args.seeds,
                      out_dir=args.out_dir, jobs=args.jobs)
    failed = list(result.failed)
    if "txl" in args.models.split(","):
        whole = run_grid(files, [h for h in HORIZONS if h <= 14], ["txl"], seeds=args.seeds,
                         out_dir=args.out_dir / "stride7", jobs=args.jobs,
                         settings=Settings(txl_params={"stride": 7}))
        failed += whole.failed
    if args.tune_trials:
        failed += run_tuned(files, args.tune_trials, args.seeds, args.out_dir / "tuned",
                            args.jobs)
    print(f"failed cells: {failed}" if failed else "every cell written")
    return 1 if failed else 0


def run_tuned(files: list[str], trials: int, seeds: int, out_dir: Path, jobs: int) -> list[str]:
    """Per cell, `txl_ts.tuning.tune` on the train rows with the validation rows as its tail
    (never the test rows; `trials` trials, the default model first), then the best
    parameters through the protocol with `seeds` seeds. Returns the failed cells."""
    import optuna

    from txl_ts.benchmark import load_protocol
    from txl_ts.grid import Settings, run_grid
    from txl_ts.tuning import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    failed = []
    for file in files:
        df, split = load_protocol(file)
        for horizon in HORIZONS:
            result = tune(df.iloc[: split.test_start], horizon, n_trials=trials, storage=None,
                          val_size=split.test_start - split.train_end, random_state=0,
                          fixed_params={"trainer_kwargs": {"enable_progress_bar": False}},
                          refit=False)
            print(f"{Path(file).stem} H={horizon}: validation MSE {result.best_value:.4f} "
                  f"(trial 0, the defaults: {result.study.trials[0].value:.4f}); "
                  f"{result.best_params}", flush=True)
            grid = run_grid([file], [horizon], ["txl"], seeds=seeds, out_dir=out_dir, jobs=jobs,
                            settings=Settings(txl_params=result.best_params))
            failed += grid.failed
    return failed


def section(results: Path) -> list[str]:
    """BENCHMARKS.md section 7: the daily cells, and the default stride against stride 7."""
    cells, reports = load_cells(results / "daily")
    if not reports:
        return []
    whole, whole_reports = load_cells(results / "daily" / "stride7")
    tuned, tuned_reports = load_cells(results / "daily" / "tuned")
    for key, cell in tuned.items():
        if key in cells and "txl" in cell["models"]:
            cells[key]["models"][TUNED] = cell["models"]["txl"]
    lines = [
        "## 7. Daily data (the bundled series averaged per day)",
        "",
        "Script: `python -m benchmarks.daily_data` (see its docstring). ETTh1, ETTh2 and WTH "
        "averaged over each complete day (725, 725 and 1,461 rows), 70/10/20 split in time "
        "order, train-only scaling, \"M\", every model at its defaults (neural ones "
        "early-stopped on the validation split), MSE on train-scaled values over every "
        "stride-1 test window; neural models mean ± std over their seeds. The seasonal naive "
        "repeats the last week. \"TXL tuned\": `txl_ts.tuning.tune` with 20 Optuna trials "
        "on the train rows, the validation rows as its tail (the defaults are trial 0), then "
        "the best parameters with 3 seeds; its parameters are in the reports of "
        "`results/daily/tuned/`. Machine: "
        + machines(reports + whole_reports + tuned_reports) + ".",
        "",
        *cell_table(cells, LABELS_DAILY),
        "",
    ]
    if whole:
        lines += [
            "The stride rule on daily data: TXL at its default (patch 7, half stride 3 up to "
            "two patches of horizon) against `stride=7`, test MSE (mean validation MSE):",
            "",
            "| cell | default: stride 3 | stride 7 (the whole patch) | test change | "
            "validation change |",
            "|---|---|---|---|---|",
        ]
        for key, cell in sorted(whole.items()):
            new, old = cells.get(key, {}).get("models", {}).get("txl"), cell["models"].get("txl")
            if not (new and old):
                continue
            val_new, val_old = (sum(r["fit_summary"]["best_val_loss"] for r in e["runs"])
                                / len(e["runs"]) for e in (new, old))
            lines.append(
                f"| {key[0]} {key[1]}-{key[2]} | {_fmt(new)} ({val_new:.4f}) | {_fmt(old)} "
                f"({val_old:.4f}) | {100 * (new['mean']['mse'] / old['mean']['mse'] - 1):+.1f}%"
                f" | {100 * (val_new / val_old - 1):+.1f}% |")
        lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
