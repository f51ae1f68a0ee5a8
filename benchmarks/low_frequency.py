"""Daily and coarser data through the benchmark protocol: the bundled hourly series averaged
per day, and three series that statsmodels ships (monthly, weekly, quarterly); the
half-stride default is checked against the whole-patch stride on the daily ones.

    python -m benchmarks.low_frequency [--seeds 3] [--jobs 2] [--tune-trials 20]

- `ETTh1_daily`, `ETTh2_daily`, `WTH_daily`: one row per complete day (the mean of its 24
  hours; a last, incomplete day is dropped): 725, 725 and 1,461 rows, horizons 7, 14, 28.
- `elnino` (monthly sea surface temperature of the Nino 1+2 region, 1950-2010, 732 rows;
  horizons 12 and 24), `co2` (weekly Mauna Loa CO2, 1958-2001, 2,284 rows, its 59 missing
  weeks linearly interpolated; horizons 13 and 52) and `macro` (eight quarterly US
  macroeconomic series, 1959-2009, 203 rows; horizons 4 and 8), from `statsmodels.datasets`:
  nothing is downloaded.

Every library model runs at its defaults on the 70/10/20 split ("M", every stride-1 test
window; reports in `benchmarks/results/low_frequency/`); TXL runs again with `stride=7` at
horizons 7 and 14 of the daily series (`.../stride7/`) and, tuned by `txl_ts.tuning.tune` on
the train rows with the validation rows as its tail, with its best parameters
(`.../tuned/`). docs/benchmarks.md section 7 by `python -m benchmarks.report`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS
from benchmarks.unseen_data import LABELS, _fmt, cell_table, load_cells, machines

OUT = RESULTS / "low_frequency"
DAILY = ("ETTh1", "ETTh2", "WTH")
# file stem -> horizons
HORIZONS = {**{f"{name}_daily": (7, 14, 28) for name in DAILY}, "elnino": (12, 24),
            "co2": (13, 52), "macro": (4, 8)}
MODELS = ["txl", "txl-nomem", "lstm", "dlinear", "arima", "naive", "snaive"]
TUNED = "txl-tuned"
LABELS_LOW = {"txl": "TXL", TUNED: "TXL tuned",
              **{k: v for k, v in LABELS.items() if k in MODELS and k != "txl"},
              "snaive": "seasonal naive"}


def daily_frames() -> dict[str, pd.DataFrame]:
    """Each bundled data set's complete days."""
    from txl_ts import datasets

    frames = {}
    for name in DAILY:
        hourly = datasets.load(name)
        hours = hourly.resample("D").size()
        frames[f"{name}_daily"] = hourly.resample("D").mean()[hours == 24]
    return frames


def statsmodels_frames() -> dict[str, pd.DataFrame]:
    """elnino (monthly), co2 (weekly, gaps interpolated) and macro (quarterly)."""
    from statsmodels import datasets as sm

    nino = sm.elnino.load_pandas().data
    months = nino.drop(columns="YEAR").to_numpy().ravel()
    elnino = pd.DataFrame({"sst": months}, index=pd.date_range(
        f"{int(nino['YEAR'].iloc[0])}-01-01", periods=len(months), freq="MS"))
    co2 = sm.co2.load_pandas().data.interpolate()
    macro = sm.macrodata.load_pandas().data
    start = f"{int(macro['year'].iloc[0])}Q{int(macro['quarter'].iloc[0])}"
    quarters = pd.period_range(start, periods=len(macro), freq="Q").to_timestamp()
    columns = ["realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "unemp", "infl"]
    macro = macro[columns].set_axis(quarters)
    return {"elnino": elnino, "co2": co2, "macro": macro}


def write_csvs(data_dir: Path) -> dict[str, Path]:
    """Every series as `<data_dir>/<stem>.csv` (a "date" column first); returns the paths."""
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stem, frame in {**daily_frames(), **statsmodels_frames()}.items():
        paths[stem] = data_dir / f"{stem}.csv"
        frame.rename_axis("date").to_csv(paths[stem])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("low_frequency_data"))
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tune-trials", type=int, default=20,
                        help="Optuna trials per cell for the tuned TXL (0: skip it)")
    args = parser.parse_args(argv)
    from txl_ts.grid import Settings, run_grid

    paths = write_csvs(args.data_dir)
    models = args.models.split(",")
    failed = []
    for stem, path in paths.items():
        result = run_grid([str(path)], list(HORIZONS[stem]), models, seeds=args.seeds,
                          out_dir=args.out_dir, jobs=args.jobs)
        failed += result.failed
    if "txl" in models:
        daily = [str(paths[f"{name}_daily"]) for name in DAILY]
        whole = run_grid(daily, [7, 14], ["txl"], seeds=args.seeds,
                         out_dir=args.out_dir / "stride7", jobs=args.jobs,
                         settings=Settings(txl_params={"stride": 7}))
        failed += whole.failed
    if args.tune_trials:
        failed += run_tuned(paths, args.tune_trials, args.seeds, args.out_dir / "tuned",
                            args.jobs)
    print(f"failed cells: {failed}" if failed else "every cell written")
    return 1 if failed else 0


def run_tuned(paths: dict[str, Path], trials: int, seeds: int, out_dir: Path,
              jobs: int) -> list[str]:
    """Per cell, `txl_ts.tuning.tune` on the train rows with the validation rows as its tail
    (never the test rows; `trials` trials, the default model first), then the best
    parameters through the protocol with `seeds` seeds. Returns the failed cells."""
    import optuna

    from txl_ts.benchmark import load_protocol
    from txl_ts.grid import Settings, run_grid
    from txl_ts.tuning import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    failed = []
    for stem, path in paths.items():
        file = str(path)
        df, split = load_protocol(file)
        for horizon in HORIZONS[stem]:
            result = tune(df.iloc[: split.test_start], horizon, n_trials=trials, storage=None,
                          val_size=split.test_start - split.train_end, random_state=0,
                          fixed_params={"trainer_kwargs": {"enable_progress_bar": False}},
                          refit=False)
            print(f"{stem} H={horizon}: validation MSE {result.best_value:.4f} "
                  f"(trial 0, the defaults: {result.study.trials[0].value:.4f}); "
                  f"{result.best_params}", flush=True)
            grid = run_grid([file], [horizon], ["txl"], seeds=seeds, out_dir=out_dir, jobs=jobs,
                            settings=Settings(txl_params=result.best_params))
            failed += grid.failed
    return failed


def section(results: Path) -> list[str]:
    """docs/benchmarks.md section 7: the low-frequency cells, and on the daily ones the default
    stride against stride 7."""
    cells, reports = load_cells(results / "low_frequency")
    if not reports:
        return []
    whole, whole_reports = load_cells(results / "low_frequency" / "stride7")
    tuned, tuned_reports = load_cells(results / "low_frequency" / "tuned")
    for key, cell in tuned.items():
        if key in cells and "txl" in cell["models"]:
            cells[key]["models"][TUNED] = cell["models"]["txl"]
    lines = [
        "## 7. Daily and coarser data",
        "",
        "Script: `python -m benchmarks.low_frequency` (see its docstring). ETTh1, ETTh2 and "
        "WTH averaged over each complete day (725, 725 and 1,461 rows); from "
        "`statsmodels.datasets`: `elnino` (monthly sea temperature, 732 rows), `co2` (weekly, "
        "2,284 rows) and `macro` (eight quarterly US series, 203 rows). 70/10/20 split in "
        "time order, train-only scaling, \"M\", every model at its defaults (neural ones "
        "early-stopped on the validation split), MSE on train-scaled values over every "
        "stride-1 test window; neural models mean ± std over their seeds. The seasonal naive "
        "repeats the frequency's season (a week of days, a year of months or weeks, a year of "
        "quarters). \"TXL tuned\": `txl_ts.tuning.tune` with 20 Optuna trials on the train "
        "rows, the validation rows as its tail (the defaults are trial 0), then the best "
        "parameters with 3 seeds; its parameters are in the reports of "
        "`results/low_frequency/tuned/`. TXL's linear path, LSTM and DLinear read the same "
        "default lookback, 14 seasons (98 days, 168 months, 728 weeks, 56 quarters). "
        "DLinear normalises nothing, and on the trending macro series it extrapolates far "
        "past repeat-last (its fits warn so). Machine: "
        + machines(reports + whole_reports + tuned_reports) + ".",
        "",
        *cell_table(cells, LABELS_LOW),
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
