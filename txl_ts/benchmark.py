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
* Any other data set is a CSV path (`--dataset my_load.csv`): a time column ("date" or the
  first) and numeric columns, evenly spaced (`datasets.read_csv`), split 70/10/20 as WTH;
  "S" is its last column. The seasonal naive repeats the frequency's season (yesterday for
  hourly or half-hourly data; `snaive-weekly` last week), and MASE is scaled by that naive.

`--rows N` truncates a data set to its first N rows and splits it in the same proportions
(ETTh: 60/20/20), for quick runs; such results are not comparable with the full protocol.
A report records `capped: true` (and why, in `capped_by`) when `--rows`, `--max-epochs` or a
model parameter that sub-samples training windows was used: such runs are not scoreboard runs.

Covariates: `--past-covariates`, `--future-covariates`, `--calendar` and `--holidays` give every
model the same roles (`targets=`, `past_covariates=`, ... : `protocol.model_roles`); only the
targets are scored, and the report records the roles (`roles`). Future covariates over the
test windows are the file's own values: an optimistic bound when a deployment would forecast
them (see `txl_ts.backtest`).

`--out-dir DIR` runs a grid of data sets x horizons x models x seeds in worker processes, one
JSON report per cell (see `txl_ts.grid`, where the command starts).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import cli
from .backtest import backtest
from .conformal import CalibrationError
from .machine import machine_info
from .metrics import level_tag
from .protocol import (  # noqa: F401  (the protocol, as the grid and scripts import it)
    ETT_BORDERS,
    MASE_LAG,
    Split,
    dataset_label,
    is_file,
    load_protocol,
    model_roles,
    seasons_of,
    split_rows,
)

HORIZONS = (96, 192, 336, 720)
MODELS = cli.MODELS
STOCHASTIC = ("txl", "txl-nomem", "lstm", "dlinear")  # the models that declare random_state
# The estimator class behind each model, as (module under txl_ts, class name): imported only
# when a model is made. Variants of one class differ in the parameters make_model sets.
ESTIMATORS = {
    "txl": ("forecaster", "TXLForecaster"), "txl-nomem": ("forecaster", "TXLForecaster"),
    "lstm": ("baselines.lstm", "LSTMForecaster"),
    "dlinear": ("baselines.dlinear", "DLinearForecaster"),
    "arima": ("baselines.arima", "ARIMAForecaster"),
    "arima-nonseasonal": ("baselines.arima", "ARIMAForecaster"),
    "naive": ("baselines.naive", "NaiveForecaster"),
    "snaive": ("baselines.naive", "NaiveForecaster"),
    "snaive-weekly": ("baselines.naive", "NaiveForecaster"),
}
# The parameter groups: `txl_params` (--txl-param) and each `model_params` key
# (--<group>-param) configure every model of one estimator class with the parameters that
# class declares. The naives take none: their method and season are what tells them apart.
GROUP_CLASSES = {"txl": "TXLForecaster", "lstm": "LSTMForecaster",
                 "dlinear": "DLinearForecaster", "arima": "ARIMAForecaster"}
MODEL_PARAM_GROUPS = tuple(group for group in GROUP_CLASSES if group != "txl")
# Which group configures each model (both ARIMA variants share "arima", both TXL ones "txl").
PARAM_GROUP = {name: group for name, (_, cls) in ESTIMATORS.items()
               for group, group_cls in GROUP_CLASSES.items() if group_cls == cls}
ROLE_PARAMS = ("targets", "past_covariates", "future_covariates", "calendar", "holidays")
COVERAGE = (0.8, 0.95)  # conformal interval levels scored for every model
INTERVAL_METRICS = tuple(f"{m}_{level_tag(c)}" for c in COVERAGE
                         for m in ("coverage", "width", "winkler"))
METRICS = ("mse", "mae", "mse_vs_snaive", "mse_orig", "mae_orig", "smape", "mase", "fit_seconds",
           "predict_seconds", *INTERVAL_METRICS)
def estimator_class(name: str) -> type:
    """The estimator class behind benchmark model `name`, imported now."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown model {name!r}; choose from {list(MODELS)}")
    module, cls = ESTIMATORS[name]
    try:
        return getattr(importlib.import_module(f"txl_ts.{module}"), cls)
    except (ImportError, AttributeError) as err:
        raise ImportError(f"{cls} is not available (txl_ts.{module}): {err}") from err


def group_params(name: str, txl_params: dict[str, Any] | None,
                 model_params: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The parameters that the group of model `name` sets (a copy; {} for the naives)."""
    groups = {**(model_params or {}), "txl": txl_params or {}}
    return dict(groups.get(PARAM_GROUP.get(name), {})) if name in PARAM_GROUP else {}


def make_model(name: str, horizon: int, seed: int | None = 0, max_epochs: int | None = None,
               txl_params: dict[str, Any] | None = None, accelerator: str = "auto",
               model_params: dict[str, dict[str, Any]] | None = None,
               seasons: tuple[int | None, int | None] = (24, 168),
               roles: dict[str, Any] | None = None):
    """A fresh, unfitted forecaster for benchmark model `name`.

    `txl_params` go to both TXL variants; `model_params` maps "lstm" / "dlinear" / "arima" to
    extra constructor parameters ("arima" configures both ARIMA variants); `seasons` are the
    data's (`seasons_of`; hourly by default) for the two seasonal naives. A group's
    parameters must be ones its estimator declares, and not the column roles, which `roles`
    (`protocol.model_roles`) gives every model, the naives included. The run's seed, epoch
    cap, accelerator and a quiet progress bar go to every model that declares those
    parameters.
    """
    from .params import param_names

    cls = estimator_class(name)
    declared = param_names(cls)
    group = PARAM_GROUP.get(name)
    params = group_params(name, txl_params, model_params)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ValueError(f"unknown {group} parameter(s) {unknown}: {cls.__name__} declares "
                         f"{', '.join(declared)}")
    role_params = sorted(set(params) & set(ROLE_PARAMS))
    if role_params:
        raise ValueError(f"{group} parameter(s) {role_params} set column roles, which apply to "
                         "every model: use --target, --past-covariates, --future-covariates, "
                         "--calendar and --holidays instead")
    # each variant's own settings, over the group's
    if name == "txl-nomem":
        params["mem_len"] = 0
    elif name == "arima-nonseasonal":
        params["seasonal"] = False
    elif name == "naive":
        params["method"] = "last"
    elif name in ("snaive", "snaive-weekly"):
        season = seasons[0] if name == "snaive" else seasons[1]
        if season is None:
            raise ValueError("snaive needs a frequency with a known season" if name == "snaive"
                             else "snaive-weekly needs sub-daily data whose step divides a "
                             "week")
        params.update(method="seasonal", season=season)
    model = cls(horizon=horizon)
    model.set_params(**params, **(roles or {}))
    if group is None:  # the naives: nothing of the run applies
        return model
    extra = {"random_state": seed, "max_epochs": max_epochs, "accelerator": accelerator,
             "trainer_kwargs": {"enable_progress_bar": False}}
    model.set_params(**{k: v for k, v in extra.items()
                        if k in declared and v is not None and not (k == "trainer_kwargs"
                                                                    and params.get(k))})
    return model


def capped_by(params: dict[str, Any] | None, max_epochs: int | None,
              rows: int | None) -> list[str]:
    """Why a run with these constructor `params` is not a full-budget run (empty if it is)."""
    params = params or {}
    reasons = []
    if rows is not None:
        reasons.append(f"rows={rows}")
    if max_epochs is not None and "max_epochs" in params:
        reasons.append(f"max_epochs={max_epochs}")
    if (params.get("window_step") or 1) > 1:
        reasons.append(f"window_step={params['window_step']}")
    return reasons


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
        vals = np.array([r.get(key) for r in runs], dtype=float)  # None (not scored): NaN
        mean[key] = float(vals.mean())
        std[key] = float(vals.std(ddof=1)) if len(vals) > 1 else None
    return mean, std


def report_header(dataset: str, horizon: int, features: str, df: pd.DataFrame, split: Split,
                  rows: int | None, max_epochs: int | None, txl_params: dict[str, Any] | None,
                  model_params: dict[str, dict[str, Any]] | None,
                  machine: dict[str, Any] | None = None,
                  roles: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields of a report that describe the protocol, the machine (this one unless given)
    and the command; no results yet. `roles` (`protocol.model_roles`) are recorded as they
    are ({} without covariates); `scored_columns` are the targets, the columns the metrics
    cover."""
    return {
        "dataset": dataset_label(dataset), "features": features, "horizon": horizon,
        **({"data_file": str(dataset)} if is_file(dataset) else {}),
        "rows": len(df), "truncated": rows is not None, "split": split.as_dict(),
        "columns": list(df.columns), "roles": roles or {},
        "scored_columns": list((roles or {}).get("targets", df.columns)),
        "mase_lag": seasons_of(df)[0] or 1,
        "protocol": "train-only StandardScaler; MSE/MAE on scaled values over every stride-1 "
                    "test window, all target columns and horizon steps (no drop_last)",
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine or machine_info(), "argv": sys.argv, "max_epochs": max_epochs,
        "txl_params": txl_params or {}, "model_params": model_params or {}, "models": {},
    }


def run_one(name: str, df: pd.DataFrame, split: Split, horizon: int, seed: int | None, *,
            max_epochs: int | None = None, txl_params: dict[str, Any] | None = None,
            accelerator: str = "auto", model_params: dict[str, dict[str, Any]] | None = None,
            roles: dict[str, Any] | None = None,
            ) -> tuple[dict[str, Any] | None, str | None, dict[str, Any] | None]:
    """Fit and score one model with one seed: (metrics row, None, params) or
    (None, error message, params) when it fails. The row holds the coverage, width and
    Winkler score of the conformal `COVERAGE` intervals, or None for them (and the reason in
    `interval_error`) when the validation split is too short to calibrate them. `roles`
    (`protocol.model_roles`) go to the model; the metrics cover its targets only."""
    params = None
    try:
        seasons = seasons_of(df)
        model = make_model(name, horizon, seed, max_epochs, txl_params, accelerator,
                           model_params, seasons, roles)
        params = model.get_params(deep=False)
        kwargs = dict(start=split.test_start, end=split.end, train_end=split.train_end,
                      mase_lag=seasons[0] or 1, keep_forecasts=False)
        interval_error = None
        try:
            result = backtest({name: model}, df, horizon, coverage=list(COVERAGE), **kwargs)
        except CalibrationError as err:  # a validation split too short for the intervals:
            interval_error = str(err)  # the point metrics are still worth reporting
            result = backtest({name: model}, df, horizon, **kwargs)
    except Exception as err:  # noqa: BLE001 - reported; the other models and seeds still run
        return None, f"{type(err).__name__}: {err}", params
    row: dict[str, Any] = {k: float(v) for k, v in result.metrics.loc[name].items()}
    if interval_error is not None:
        row.update({key: None for key in INTERVAL_METRICS}, interval_error=interval_error)
    summary = getattr(result.models[name], "fit_summary_", None)
    row.update(seed=seed, n_windows=int(result.n_windows),
               epochs=(summary or {}).get("epochs"),
               stopped_early=(summary or {}).get("stopped_early"), fit_summary=summary)
    return row, None, params


def model_entry(seed_list: list[int | None], runs: list[dict[str, Any]],
                errors: list[dict[str, Any]], params: dict[str, Any] | None) -> dict[str, Any]:
    """A report's entry for one model: its runs, errors and mean / std over the runs."""
    entry: dict[str, Any] = {"seeds": seed_list, "runs": runs, "errors": errors,
                             "params": params}
    if runs:
        entry["mean"], entry["std"] = _summary(runs)
    return entry


def mark_capped(report: dict[str, Any], rows: int | None) -> None:
    """Set `capped` / `capped_by` from the models' recorded parameters."""
    reasons = sorted({r for e in report["models"].values()
                      for r in capped_by(e.get("params"), report.get("max_epochs"), rows)})
    report["capped"], report["capped_by"] = bool(reasons), reasons


def run_benchmark(dataset: str, horizon: int, models: list[str], *, features: str = "M",
                  seeds: int = 1, max_epochs: int | None = None,
                  txl_params: dict[str, Any] | None = None, rows: int | None = None,
                  accelerator: str = "auto", model_params: dict[str, dict[str, Any]] | None = None,
                  log=print, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the protocol for every model; returns the JSON-ready report.

    `data`: `load_protocol`'s keyword options (target, time_col, val_size and the covariate
    roles past_covariates, future_covariates, calendar, holidays), which every model gets
    through `model_roles`.

    Stochastic models (txl, txl-nomem, lstm, dlinear) run with seeds 0..seeds-1 and report
    mean and sample std (ddof=1); deterministic ones run once. A model that fails is reported
    with its error instead of metrics.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {list(MODELS)}")
    data = {k: v for k, v in (data or {}).items() if v is not None}
    df, split = load_protocol(dataset, features, rows, **data)
    roles = model_roles(df, data)
    began = time.perf_counter()
    report = report_header(dataset, horizon, features, df, split, rows, max_epochs, txl_params,
                           model_params, roles=roles)
    if data:
        report["data_options"] = data
    for name in models:
        seed_list = list(range(seeds)) if name in STOCHASTIC else [None]
        runs, errors, params = [], [], None
        for seed in seed_list:
            log(f"[{datetime.now(timezone.utc):%H:%M:%S}] {dataset} {features} H={horizon} "
                f"{name} seed={seed}")
            row, error, seed_params = run_one(
                name, df, split, horizon, seed, max_epochs=max_epochs, txl_params=txl_params,
                accelerator=accelerator, model_params=model_params, roles=roles)
            params = seed_params or params
            if row is None:
                errors.append({"seed": seed, "error": error})
                log(f"  failed: {error}")
                continue
            report["n_windows"] = row["n_windows"]
            runs.append(row)
            log(f"  mse={row['mse']:.4f} mae={row['mae']:.4f} "
                f"cover80={_fmt(row.get('coverage_80'), None, 3)} "
                f"cover95={_fmt(row.get('coverage_95'), None, 3)} fit={row['fit_seconds']:.1f}s "
                f"predict={row['predict_seconds']:.2f}s windows={row['n_windows']} "
                f"epochs={row['epochs']}")
        report["models"][name] = model_entry(seed_list, runs, errors, params)
    mark_capped(report, rows)
    report["runtime_seconds"] = time.perf_counter() - began
    report["load_average_1m_end"] = os.getloadavg()[0]
    report["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return _json_safe(report)


def _fmt(mean: float | None, std: float | None, digits: int = 4) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _roles_note(roles: dict[str, Any] | None) -> str:
    """"; scored on [...]; past covariates [...]; ..." for a report with covariates."""
    if not roles:
        return ""
    names = {"targets": "scored on", "past_covariates": "past covariates",
             "future_covariates": "future covariates", "calendar": "calendar",
             "holidays": "holidays"}
    return "".join(f"; {names[k]} {v}" for k, v in roles.items() if k in names)


def markdown_table(report: dict[str, Any]) -> str:
    """One row per model: scaled MSE / MAE (mean ± std over seeds), sMAPE, MASE, timings."""
    lines = [
        f"{report['dataset']} {report['features']} horizon {report['horizon']}, "
        f"{report.get('n_windows', 'n/a')} windows"
        + (f" (truncated to {report['rows']} rows)" if report.get("truncated") else "")
        + _roles_note(report.get("roles")),
        "",
        "| model | seeds | MSE | MAE | MSE / seasonal naive | sMAPE % | MASE | fit s | "
        "predict s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in report["models"].items():
        if "mean" not in entry:
            err = entry["errors"][0]["error"] if entry["errors"] else "no run"
            lines.append(f"| {name} | - | failed: {err[:80]} | | | | | | |")
            continue
        m, s = entry["mean"], entry["std"]
        n = len(entry["runs"])
        lines.append(
            f"| {name} | {n} | {_fmt(m['mse'], s['mse'])} | {_fmt(m['mae'], s['mae'])} | "
            f"{_fmt(m.get('mse_vs_snaive'), None, 2)} | "
            f"{_fmt(m['smape'], None, 2)} | {_fmt(m['mase'], None, 3)} | "
            f"{_fmt(m['fit_seconds'], None, 1)} | {_fmt(m['predict_seconds'], None, 2)} |"
        )
    return "\n".join(lines)


# the argument parsers live in txl_ts.cli (no heavy imports, so --help is instant)
_parse_param, _models_arg = cli.parse_param, cli.models_arg
_datasets_arg, _horizons_arg = cli.datasets_arg, cli.horizons_arg


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write `obj` as JSON so that `path` is never seen half-written (temp file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `benchmark` sub-command's options (defined in `txl_ts.cli`)."""
    cli.add_benchmark_arguments(parser)


def model_params_from(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {name: dict(getattr(args, f"{name}_param")) for name in MODEL_PARAM_GROUPS}


def check_counts(args: argparse.Namespace) -> None:
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1")
    if args.jobs < 1:
        raise SystemExit("--jobs must be at least 1")


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """`load_protocol`'s options from `--target`, `--time-col`, `--val-size` and the covariate
    flags `--past-covariates`, `--future-covariates`, `--calendar`, `--holidays` (those given).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed `benchmark` or `tune` arguments.

    Returns
    -------
    dict
        `target`, `past_covariates`, `future_covariates` (tuples), `time_col`, `val_size`,
        `calendar` ("auto" or a tuple) and `holidays` ("US" or ("AU", "VIC")), each only when
        given. Hashable values, so that the grid can key its caches on them.
    """
    target = getattr(args, "target", None)
    options = {"target": None if target is None else tuple(target),
               "time_col": getattr(args, "time_col", None),
               "val_size": getattr(args, "val_size", None),
               "past_covariates": getattr(args, "past_covariates", None),
               "future_covariates": getattr(args, "future_covariates", None),
               "calendar": getattr(args, "calendar", None),
               "holidays": getattr(args, "holidays", None)}
    return {k: v for k, v in options.items() if v is not None}


def check_data(args: argparse.Namespace) -> dict[str, Any]:
    """Load every data set once, so a bad CSV or --target fails before any model runs;
    returns `data_options(args)`."""
    data = data_options(args)
    for dataset in args.dataset:
        load_protocol(dataset, args.features, args.rows, **data)
    return data


def run(args: argparse.Namespace) -> int:
    """One cell of `python -m txl_ts benchmark`; the command starts in `txl_ts.grid.run`,
    which runs the grid itself when `--out-dir` is given."""
    check_counts(args)
    if args.out_dir is not None:
        raise SystemExit("--out-dir runs a grid: use txl_ts.grid.run")
    if (len(args.dataset) > 1 or len(args.horizon) > 1 or args.jobs > 1 or args.force
            or getattr(args, "scheduler", None)):
        raise SystemExit("several data sets or horizons, --jobs, --force and --scheduler need "
                         "--out-dir (the grid)")
    data = check_data(args)
    report = run_benchmark(
        args.dataset[0], args.horizon[0], args.models, features=args.features,
        seeds=args.seeds, max_epochs=args.max_epochs, txl_params=dict(args.txl_param),
        rows=args.rows, accelerator=args.accelerator, model_params=model_params_from(args),
        log=lambda msg: print(msg, file=sys.stderr, flush=True), data=data,
    )
    print(markdown_table(report))
    if args.out is not None:
        write_json_atomic(args.out, report)
        print(f"\nwrote {args.out}")
    failed = any(e["errors"] for e in report["models"].values())
    return 1 if failed else 0
