"""`python -m txl_ts benchmark --id-col ID --time-col T --dataset panel.csv`: the benchmark
protocol on a long CSV of many series.

Every series is split by the wide CSV protocol on its own length (`protocol_long`: 70/10/20,
or `--val-size` validation rows before the last 20% of its rows). Each requested model is
fitted once on the long frame of every series' training rows, with every series' validation
rows as `validation_data` (early stopping and the conformal intervals); the model decides
whether that is one global network (TXL, LSTM, DLinear) or one model per series (ARIMA, the
naive forecasts). `backtest_panel.backtest_long` then scores every stride-1 window of every
series' test part, each series on its own training scale; no window is dropped.

The report is the wide benchmark's (`txl_ts.benchmark`) with the series added: each model's
entry holds the metrics pooled over series (the mean of the series' metrics, `n_windows`
summed) per seed, their mean and std over seeds, and `per_series`, each series' metrics
(mean over seeds). Stochastic models run with seeds 0..N-1 as in the wide path.

`--features` does not apply: a long CSV's targets are `--target` (default every value column
that is not a covariate), so "M", the default, is what happens and "S" is refused. `--out-dir`
(the grid) is for wide data sets and is refused too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .backtest_panel import backtest_long
from .benchmark import (
    COVERAGE,
    INTERVAL_METRICS,
    METRICS,
    MODELS,
    STOCHASTIC,
    _fmt,
    _json_safe,
    _roles_note,
    check_counts,
    data_options,
    machine_info,
    make_model,
    mark_capped,
    markdown_table,
    model_entry,
    model_params_from,
    write_json_atomic,
)
from .cli import dataset_label
from .conformal import CalibrationError
from .protocol import seasons_of_freq
from .protocol_long import LongData, load_long_protocol, long_roles

PROTOCOL = ("each series split 70/10/20 (or --val-size) on its own length; one fit on the long "
            "frame; train-only StandardScaler per series; MSE/MAE on each series' scaled values "
            "over every stride-1 test window, all target columns and horizon steps (no "
            "drop_last); pooled = mean over series, n_windows summed")


def run_one_long(name: str, data: LongData, horizon: int, seed: int | None, *,
                 roles: dict[str, Any], max_epochs: int | None = None,
                 txl_params: dict[str, Any] | None = None, accelerator: str = "auto",
                 model_params: dict[str, dict[str, Any]] | None = None,
                 ) -> tuple[dict[str, Any] | None, str | None, dict[str, Any] | None]:
    """Fit one model with one seed on the long frame and backtest every series' test part.

    Parameters
    ----------
    name : str
        A benchmark model (`txl_ts.benchmark.MODELS`).
    data : LongData
        The long CSV and each series' split.
    horizon : int
        The forecast horizon.
    seed : int or None
        The model's seed (None for the deterministic models).
    roles : dict
        `protocol_long.long_roles`: id and time columns, targets and covariate roles.
    max_epochs, txl_params, accelerator, model_params : optional
        As for `txl_ts.benchmark.make_model`.

    Returns
    -------
    tuple
        (row, None, params) with the pooled metrics and `per_series` in the row, or
        (None, error message, params) when the model fails.
    """
    params = None
    try:
        seasons = seasons_of_freq(data.freq)
        model = make_model(name, horizon, seed, max_epochs, txl_params, accelerator,
                           model_params, seasons, roles)
        params = model.get_params(deep=False)
        kwargs = dict(start=data.borders("test_start"), end=data.borders("end"),
                      train_end=data.borders("train_end"), id_col=data.id_col,
                      time_col=data.time_col, mase_lag=seasons[0] or 1, keep_forecasts=False)
        interval_error = None
        try:
            result = backtest_long({name: model}, data.df, horizon, coverage=list(COVERAGE),
                                   **kwargs)
        except CalibrationError as err:  # validation rows too few for the intervals: the
            interval_error = str(err)  # point metrics are still worth reporting
            result = backtest_long({name: model}, data.df, horizon, **kwargs)
    except Exception as err:  # noqa: BLE001 - reported; the other models and seeds still run
        return None, f"{type(err).__name__}: {err}", params
    row: dict[str, Any] = {k: float(v) for k, v in result.metrics.loc[name].items()}
    per_series = result.per_series.xs(name, level="model")
    row["per_series"] = {sid: {k: float(v) for k, v in metrics.items()}
                         for sid, metrics in per_series.iterrows()}
    if interval_error is not None:
        row.update({key: None for key in INTERVAL_METRICS}, interval_error=interval_error)
        for metrics in row["per_series"].values():
            metrics.update({key: None for key in INTERVAL_METRICS})
    summary = getattr(result.models[name], "fit_summary_", None)
    row.update(seed=seed, n_windows=int(row["n_windows"]), epochs=(summary or {}).get("epochs"),
               stopped_early=(summary or {}).get("stopped_early"), fit_summary=summary)
    return row, None, params


def _per_series_mean(runs: list[dict[str, Any]]) -> dict[Any, dict[str, float | None]]:
    """Each series' metrics, the mean over the runs (seeds)."""
    keys = [k for k in (*METRICS, "n_windows") if k not in ("fit_seconds",)]
    out = {}
    for sid in runs[0]["per_series"]:
        out[sid] = {}
        for key in keys:
            vals = np.array([r["per_series"][sid].get(key) for r in runs], dtype=float)
            out[sid][key] = None if np.isnan(vals).all() else float(np.nanmean(vals))
    return out


def run_benchmark_long(dataset: str, horizon: int, models: list[str], *, id_col: str,
                       seeds: int = 1, max_epochs: int | None = None,
                       txl_params: dict[str, Any] | None = None, rows: int | None = None,
                       accelerator: str = "auto",
                       model_params: dict[str, dict[str, Any]] | None = None, log=print,
                       data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the protocol on a long CSV for every model; returns the JSON-ready report.

    Parameters
    ----------
    dataset : str
        The long CSV.
    horizon : int
        The forecast horizon.
    models : list of str
        Benchmark models (`txl_ts.benchmark.MODELS`).
    id_col : str
        The column naming each row's series.
    seeds : int, default 1
        Stochastic models run with seeds 0..seeds-1 (mean and sample std); the others once.
    max_epochs, txl_params, rows, accelerator, model_params : optional
        As for `txl_ts.benchmark.run_benchmark`; `rows` keeps each series' first rows.
    log : callable, default print
        Receives one line per run.
    data : dict, optional
        `benchmark.data_options`: `time_col` (required), `target`, `val_size` and the
        covariate roles.

    Returns
    -------
    dict
        The report: the wide report's fields, `id_col`, `time_col`, `n_series`, `series`
        (each one's rows, first and last timestamps and split) and, per model, `per_series`.

    Raises
    ------
    ValueError
        On an unknown model or a bad CSV (naming the file, the series and the column).
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {list(MODELS)}")
    options = {k: v for k, v in (data or {}).items() if v is not None}
    long = load_long_protocol(dataset, horizon, rows, id_col=id_col, **options)
    roles = long_roles(long, options)
    began = time.perf_counter()
    stamps = long.df.groupby(id_col, sort=False)[long.time_col]
    first, last = stamps.min(), stamps.max()
    report: dict[str, Any] = {
        "dataset": dataset_label(dataset), "layout": "long", "features": "M",
        "horizon": horizon, "data_file": str(dataset), "id_col": id_col,
        "time_col": long.time_col, "freq": long.freq.freqstr, "n_series": len(long.splits),
        "rows": len(long.df), "truncated": rows is not None,
        "series": {sid: {"rows": split.end, "first": str(first[sid]), "last": str(last[sid]),
                         "split": split.as_dict()} for sid, split in long.splits.items()},
        "columns": [*long.targets, *long.covariates], "roles": roles,
        "scored_columns": list(long.targets), "mase_lag": seasons_of_freq(long.freq)[0] or 1,
        "protocol": PROTOCOL,
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(), "argv": sys.argv, "max_epochs": max_epochs,
        "txl_params": txl_params or {}, "model_params": model_params or {},
        "data_options": options, "models": {},
    }
    for name in models:
        seed_list = list(range(seeds)) if name in STOCHASTIC else [None]
        runs, errors, params = [], [], None
        for seed in seed_list:
            log(f"[{datetime.now(timezone.utc):%H:%M:%S}] {dataset} ({len(long.splits)} series) "
                f"H={horizon} {name} seed={seed}")
            row, error, seed_params = run_one_long(
                name, long, horizon, seed, roles=roles, max_epochs=max_epochs,
                txl_params=txl_params, accelerator=accelerator, model_params=model_params)
            params = seed_params or params
            if row is None:
                errors.append({"seed": seed, "error": error})
                log(f"  failed: {error}")
                continue
            report["n_windows"] = row["n_windows"]
            runs.append(row)
            log(f"  pooled mse={row['mse']:.4f} mae={row['mae']:.4f} "
                f"fit={row['fit_seconds']:.1f}s windows={row['n_windows']} "
                f"epochs={row['epochs']}")
        entry = model_entry(seed_list, runs, errors, params)
        if runs:
            entry["per_series"] = _per_series_mean(runs)
        report["models"][name] = entry
    mark_capped(report, rows)
    report["runtime_seconds"] = time.perf_counter() - began
    report["load_average_1m_end"] = os.getloadavg()[0]
    report["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return _json_safe(report)


def markdown_long(report: dict[str, Any]) -> str:
    """The pooled table (as the wide benchmark's) and a table of every series and model.

    Parameters
    ----------
    report : dict
        A `run_benchmark_long` report.

    Returns
    -------
    str
        Markdown.
    """
    pooled = markdown_table(report).splitlines()[1:]  # the wide table without its title
    lines = [
        f"{report['dataset']}: {report['n_series']} series (by {report['id_col']!r}), horizon "
        f"{report['horizon']}, {report.get('n_windows', 'n/a')} windows in all"
        + (" (each series truncated)" if report.get("truncated") else "")
        + _roles_note({k: v for k, v in report.get("roles", {}).items()
                       if k not in ("id_col", "time_col")}),
        "",
        "Pooled over series (the mean of the series' metrics):",
        *pooled,
        "",
        "Per series (mean over seeds):",
        "",
        "| series | rows | windows | model | MSE | MAE | sMAPE % | MASE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sid, info in report["series"].items():
        for name, entry in report["models"].items():
            metrics = (entry.get("per_series") or {}).get(sid)
            if metrics is None:
                lines.append(f"| {sid} | {info['rows']} | - | {name} | failed | | | |")
                continue
            lines.append(
                f"| {sid} | {info['rows']} | {int(metrics['n_windows'])} | {name} | "
                f"{_fmt(metrics['mse'], None)} | {_fmt(metrics['mae'], None)} | "
                f"{_fmt(metrics['smape'], None, 2)} | {_fmt(metrics['mase'], None, 3)} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """`python -m txl_ts benchmark --id-col ...`: one long CSV, one horizon.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed `benchmark` options (`txl_ts.cli.add_benchmark_arguments`).

    Returns
    -------
    int
        0 when every model ran, 1 when one failed.

    Raises
    ------
    ValueError
        On options that do not apply to a long CSV, or a bad CSV (one line on the command
        line).
    """
    check_counts(args)
    if args.out_dir is not None:
        raise ValueError("--id-col runs one benchmark of one long CSV: write its report with "
                         "--out FILE (--out-dir runs the grid of wide data sets)")
    if len(args.dataset) > 1 or len(args.horizon) > 1 or args.jobs > 1 or args.force:
        raise ValueError("--id-col takes one data set and one horizon (no --jobs, --force)")
    if args.features != "M":
        raise ValueError("--features S does not apply with --id-col: the series are the ids "
                         "of --id-col, and --target names the column(s) to forecast")
    report = run_benchmark_long(
        args.dataset[0], args.horizon[0], args.models, id_col=args.id_col, seeds=args.seeds,
        max_epochs=args.max_epochs, txl_params=dict(args.txl_param), rows=args.rows,
        accelerator=args.accelerator, model_params=model_params_from(args),
        log=lambda msg: print(msg, file=sys.stderr, flush=True), data=data_options(args))
    print(markdown_long(report))
    if args.out is not None:
        write_json_atomic(args.out, report)
        print(f"\nwrote {args.out}")
    return 1 if any(e["errors"] for e in report["models"].values()) else 0
