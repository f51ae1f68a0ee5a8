"""The library's models on the many-series panel (`benchmarks.panel_data`), as a report that
sits beside the peers' (`benchmarks.panel_peers`).

Rows:

* ``txl-global``, ``lstm-global``, ``dlinear-global``: one network over the three series,
  fitted once on the long TRAIN frame with the long VALIDATION frame as `validation_data`
  (``id_col="unique_id"``, ``time_col="ds"``, ``targets=["y"]``, horizon 24, the defaults
  otherwise, early stopping as they do it); each series is scaled by its own training rows.
* ``txl-local``, ``lstm-local``, ``dlinear-local``: one wide model per series, fitted on its
  TRAIN rows with its VALIDATION rows as `validation_data`, same settings.
* ``arima``: the library's ARIMA through ``id_col`` (one model per series, local).
* ``snaive``: the library's seasonal naive through ``id_col``.

The neural rows run for every seed (``--seeds N``: 0 .. N-1); ARIMA and the naive are
deterministic and run once.

Test forecasts: every stride-1 test window of every series (2,377 per series), from the
fitted model without refitting, through `txl_ts.backtest.backtest` on the whole panel with
``start = -TEST_ROWS`` (each series' own test start) and ``train_end = -(TEST_ROWS + VAL_ROWS)``
(each series' own training rows give the backtest's metric scaler). A long model is
backtested as it is (`backtest_long`, which forecasts each series through
``model.series_model(uid).rolling_forecasts``), a wide one on its series' frame: either way
each window's forecast sees the rows up to its cutoff only. The forecasts are scored by
`panel_data.score` at stride 1 and on every 24th window (the peers' stride); the backtest's
own per-series MSE, on the same scale, is kept as a cross-check. Nothing is selected on test.

Intervals: the same backtest places each model's conformal 80% and 90% intervals (calibrated
per series on its own validation residuals) around the same forecasts; their empirical
coverage over the test windows is reported per series.

The report (benchmarks/results/panel/library.json) is rewritten after every run, and a rerun
skips the runs already in it, so an interrupted run resumes:

    OMP_NUM_THREADS=1 python -m benchmarks.panel --seeds 3
    python -m benchmarks.panel table      # markdown tables, beside peers.json when present

``--quick`` (the smoke test) fits for one epoch on the last `QUICK_ROWS` rows of each series
and scores every 24th window only; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import panel_data as pdata
from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster
from txl_ts.benchmark import machine_info, write_json_atomic

OUT = Path(__file__).resolve().parent / "results" / "panel" / "library.json"
PEERS = OUT.with_name("peers.json")
ID, TIME, TARGET = "unique_id", "ds", "y"
NETWORKS = {"txl": TXLForecaster, "lstm": LSTMForecaster, "dlinear": DLinearForecaster}
MODELS = ("txl-global", "lstm-global", "dlinear-global", "txl-local", "lstm-local",
          "dlinear-local", "arima", "snaive")
LEVELS = (0.8, 0.9)
STRIDES = (1, pdata.PEER_STRIDE)
METRICS = ("mse", "mae", "mse_vs_snaive", "mae_vs_snaive")
QUICK_ROWS = pdata.TEST_ROWS + pdata.VAL_ROWS + 400  # 400 training rows per series
QUICK_EPOCHS = 1


def is_neural(name: str) -> bool:
    """Whether `name` is a network row (seeded, with epochs)."""
    return name.split("-")[0] in NETWORKS


def is_long(name: str) -> bool:
    """Whether `name` is fitted on the long frame (global networks, ARIMA, naive)."""
    return not name.endswith("-local")


def build(name: str, seed: int, quick: bool) -> Any:
    """The unfitted estimator of row `name`: long (id_col) unless it is a ``-local`` row."""
    roles: dict[str, Any] = dict(horizon=pdata.HORIZON, targets=[TARGET], time_col=TIME)
    if is_long(name):
        roles["id_col"] = ID
    if name == "arima":
        return ARIMAForecaster(**roles)
    if name == "snaive":
        return NaiveForecaster(method="seasonal", season=pdata.SEASON, **roles)
    extra = {"max_epochs": QUICK_EPOCHS} if quick else {}
    return NETWORKS[name.split("-")[0]](random_state=seed, verbose=False, **roles, **extra)


def load(quick: bool) -> pd.DataFrame:
    """The panel; with `quick`, the last `QUICK_ROWS` rows of each series (so that every
    series keeps the protocol's validation and test rows and 400 training rows)."""
    panel = pdata.load_panel()
    if quick:
        panel = panel.groupby(ID, group_keys=False).tail(QUICK_ROWS).reset_index(drop=True)
    return panel


def _summary_of(model: Any) -> dict[str, Any]:
    """The training facts a fitted model exposes (networks: epochs, best validation loss,
    early stop; ARIMA: its fit summary and the orders it chose)."""
    summary = dict(getattr(model, "fit_summary_", None) or {})
    keep = ("epochs", "best_val_loss", "stopped_early", "train_loss", "all_converged",
            "n_series")
    out = {k: summary[k] for k in keep if k in summary}
    orders = getattr(model, "orders_", None)
    if orders:
        out["orders"] = {str(k): list(v) for k, v in orders.items()}
    return out


def fit_and_forecast(name: str, seed: int, panel: pd.DataFrame, quick: bool
                     ) -> dict[str, Any]:
    """Fit row `name` for `seed`, forecast the test windows, no refit: every window, or
    with `quick` every 24th.

    Returns
    -------
    dict
        ``forecasts`` {uid: (n_windows, H)}, ``coverage`` {uid: {"80": .., "90": ..}},
        ``backtest_mse`` {uid: the backtest's own scaled MSE}, ``fit`` (per model or per
        series training facts), ``fit_seconds``, ``predict_seconds``.
    """
    stride = pdata.PEER_STRIDE if quick else 1
    start = -pdata.TEST_ROWS
    train_end = -(pdata.TEST_ROWS + pdata.VAL_ROWS)
    levels = list(LEVELS)
    train, valid = pdata.train_frame(panel), pdata.validation_frame(panel)
    forecasts, coverage, bt_mse = {}, {}, {}
    if is_long(name):
        model = build(name, seed, quick)
        began = time.perf_counter()
        model.fit(train, validation_data=valid)
        fit_seconds = time.perf_counter() - began
        began = time.perf_counter()
        result = backtest({name: model}, panel, pdata.HORIZON, start, stride=stride,
                          train_end=train_end, coverage=levels)
        predict_seconds = time.perf_counter() - began
        for uid in pdata.SERIES_IDS:
            forecasts[uid] = result.results[uid].predictions[name][:, :, 0]
            row = result.per_series.loc[(uid, name)]
            coverage[uid] = {f"{round(100 * c)}": float(row[f"coverage_{round(100 * c)}"])
                             for c in LEVELS}
            bt_mse[uid] = float(row["mse"])
        fit = _summary_of(model)
        if name == "arima":
            fit = {uid: _summary_of(model.series_model(uid)) for uid in pdata.SERIES_IDS}
    else:
        fit, fit_seconds, predict_seconds = {}, 0.0, 0.0
        for uid, frame in panel.groupby(ID, sort=True):
            frame = frame.drop(columns=ID).reset_index(drop=True)
            n = len(frame)
            t_end, t_start = pdata.split_rows(n)
            model = build(name, seed, quick)
            began = time.perf_counter()
            model.fit(frame.iloc[:t_end], validation_data=frame.iloc[t_end:t_start])
            fit_seconds += time.perf_counter() - began
            began = time.perf_counter()
            result = backtest({name: model}, frame, pdata.HORIZON, t_start, stride=stride,
                              train_end=t_end, time_col=TIME, coverage=levels)
            predict_seconds += time.perf_counter() - began
            forecasts[uid] = result.predictions[name][:, :, 0]
            row = result.metrics.loc[name]
            coverage[uid] = {f"{round(100 * c)}": float(row[f"coverage_{round(100 * c)}"])
                             for c in LEVELS}
            bt_mse[uid] = float(row["mse"])
            fit[uid] = _summary_of(model)
    return {"forecasts": forecasts, "coverage": coverage, "backtest_mse": bt_mse, "fit": fit,
            "fit_seconds": fit_seconds, "predict_seconds": predict_seconds}


def run_one(name: str, seed: int, panel: pd.DataFrame, quick: bool) -> dict[str, Any]:
    """One run of row `name`: fit, forecast, score at stride 1 (not with `quick`) and 24."""
    stride = pdata.PEER_STRIDE if quick else 1
    out = fit_and_forecast(name, seed, panel, quick)
    forecasts = out.pop("forecasts")
    row: dict[str, Any] = {"seed": seed if is_neural(name) else None, **out}
    for s in STRIDES:
        if s % stride:
            row[f"stride{s}"] = None
            continue
        row[f"stride{s}"] = pdata.score({u: f[:: s // stride] for u, f in forecasts.items()},
                                        panel, s)
    scored = row[f"stride{stride}"]["series"]
    # the backtest scales by the same TRAIN std (ddof 0): its MSE must equal panel_data's
    row["backtest_mse_max_abs_diff"] = max(abs(out["backtest_mse"][u] - scored[u]["mse"])
                                           for u in pdata.SERIES_IDS)
    epochs = [v.get("epochs") for v in (out["fit"].values() if not is_long(name)
                                        else [out["fit"]])]
    row["epochs"] = epochs if not is_long(name) else epochs[0]
    return row


# ---------------------------------------------------------------------------------- report

def _stats(values: list[float]) -> dict[str, float | None]:
    return {"mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else None}


def summarise(runs: list[dict[str, Any]], stride: int) -> dict[str, Any] | None:
    """Mean and std (ddof 1; None for one run) over seeds of the pooled and per-series
    scores at `stride`, in the layout of `benchmarks.panel_peers.summary`; None if no run
    was scored at `stride`."""
    rows = [r[f"stride{stride}"] for r in runs if r.get(f"stride{stride}")]
    if not rows:
        return None
    return {"seeds": len(rows),
            "pooled": {m: _stats([r["pooled"][m] for r in rows]) for m in METRICS},
            "series": {uid: {m: _stats([r["series"][uid][m] for r in rows]) for m in METRICS}
                       for uid in pdata.SERIES_IDS}}


def summarise_model(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores, coverage (mean over seeds per series and level), epochs and fit seconds."""
    coverage = {uid: {lv: float(np.mean([r["coverage"][uid][lv] for r in runs]))
                      for lv in runs[0]["coverage"][uid]} for uid in pdata.SERIES_IDS}
    fit = [r["fit_seconds"] for r in runs]
    return {**{f"stride{s}": summarise(runs, s) for s in STRIDES}, "coverage": coverage,
            "epochs": [r["epochs"] for r in runs], "fit_seconds": _stats(fit),
            "predict_seconds": _stats([r["predict_seconds"] for r in runs])}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run(models: list[str], seeds: int, out: Path, quick: bool,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every (model, seed) not yet in the report at `out`, rewriting it after each."""
    panel = load(quick)
    report: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    if report and report.get("quick", False) != quick:
        raise SystemExit(f"{out} holds a {'quick' if report.get('quick') else 'full'} run; "
                         "use another --out")
    if not report:
        report = {"benchmark": "panel (library)", "quick": quick,
                  "protocol": pdata.protocol_record(),
                  "seasonal_naive": {f"stride{s}": pdata.score(pdata.seasonal_naive(panel, s),
                                                               panel, s)["snaive"]
                                     for s in STRIDES if not (quick and s == 1)},
                  "settings": {"horizon": pdata.HORIZON, "roles": {"id_col": ID,
                               "time_col": TIME, "targets": [TARGET]},
                               "coverage_levels": list(LEVELS),
                               "params": "library defaults otherwise" if not quick else
                               f"max_epochs={QUICK_EPOCHS}, last {QUICK_ROWS} rows per series",
                               "fitted_on": "TRAIN rows; VALIDATION rows as validation_data "
                                            "(early stopping, calibration)"},
                  "started_utc": now(), "runs": {}, "models": {}}
    report["machine"] = machine_info()
    # seed-major: every row gets its first seed before any gets its second, so that a run
    # cut short still covers every model
    for seed in range(seeds):
        for name in models:
            key = f"{name}/seed{seed}"
            if key in report["runs"] or (seed and not is_neural(name)):
                continue
            log(f"{key} ...")
            row = run_one(name, seed, panel, quick)
            report["runs"][key] = row
            mine = [r for k, r in report["runs"].items() if k.split("/")[0] == name]
            report["models"][name] = summarise_model(mine)
            report["finished_utc"] = now()
            report["machine"]["load_average_1m"] = machine_info()["load_average_1m"]
            write_json_atomic(out, report)
            best = row["stride1"] or row[f"stride{pdata.PEER_STRIDE}"]
            log(f"  pooled mse {best['pooled']['mse']:.4f} vs snaive "
                f"{best['pooled']['mse_vs_snaive']:.3f}  epochs {row['epochs']}  fit "
                f"{row['fit_seconds']:.0f} s  forecast {row['predict_seconds']:.0f} s")
    return report


# ----------------------------------------------------------------------------------- table

def _cell(stat: dict[str, float | None], digits: int = 4) -> str:
    std = stat.get("std")
    return f"{stat['mean']:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def peer_rows(path: Path) -> dict[str, dict[str, Any]]:
    """The peers' models in the layout of `summarise_model` (scores by stride, steps), from
    `benchmarks.panel_peers`' report; empty if it is absent."""
    if not path.is_file():
        return {}
    out = {}
    for name, entry in json.loads(path.read_text()).get("models", {}).items():
        if "summary" in entry:  # seeded (NHITS): the peer's own mean / std over seeds
            out[name] = {**entry["summary"], "epochs": [r.get("steps") for r in entry["runs"]],
                         "unit": "steps"}
        else:  # one deterministic run, scored at the strides it covers
            out[name] = {f"stride{s}": summarise([entry], s) for s in STRIDES}
            out[name].update(epochs=None, unit="")
    return out


def table(out: Path, peers: Path = PEERS) -> str:
    """Markdown: accuracy at stride 1 (a peer scored only every 24th window is shown with
    those scores and marked), accuracy at stride 24 for every row, coverage, cost."""
    if not out.is_file():
        return f"no report at {out}"
    report = json.loads(out.read_text())
    ours = report["models"]
    theirs = peer_rows(peers)
    ids = pdata.SERIES_IDS
    head = ("| model | source | stride | pooled MSE | pooled MAE | MSE / snaive | "
            + " | ".join(f"MSE {u}" for u in ids) + " | seeds |")
    rule = "|" + "---|" * (7 + len(ids))  # six named columns, one per series, seeds
    machine = report["machine"]
    lines = [f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, torch "
             f"{machine.get('torch')}, commit {str(machine.get('git_commit'))[:10]}"
             + (" (QUICK run: numbers mean nothing)" if report.get("quick") else ""), ""]
    naive = report["seasonal_naive"]
    for stride in STRIDES:
        if f"stride{stride}" not in naive:
            continue
        lines += [f"**Stride {stride}** (MSE / MAE on train-z-scored values; mean ± sd over "
                  "seeds)" + ("; † = peer scored on every 24th window only, shown at stride "
                             "24" if stride == 1 else ""), "", head, rule]
        rows = []
        for source, group in (("txl_ts", ours), ("peer", theirs)):
            for name, entry in group.items():
                s = entry.get(f"stride{stride}")
                shown = f"{stride}"
                if s is None and stride == 1 and source == "peer":
                    s, shown = entry.get(f"stride{pdata.PEER_STRIDE}"), f"{pdata.PEER_STRIDE} †"
                if s is None:
                    continue
                p = s["pooled"]
                rows.append((p["mse"]["mean"], f"| {name} | {source} | {shown} | "
                             f"{_cell(p['mse'])} | {_cell(p['mae'])} | "
                             f"{_cell(p['mse_vs_snaive'], 3)} | "
                             + " | ".join(_cell(s["series"][u]["mse"]) for u in ids)
                             + f" | {s['seeds']} |"))
        n = naive[f"stride{stride}"]
        rows.append((n["pooled"]["mse"], f"| seasonal naive (lag 24, panel_data) | reference | "
                     f"{stride} | {n['pooled']['mse']:.4f} | {n['pooled']['mae']:.4f} | 1.000 | "
                     + " | ".join(f"{n['series'][u]['mse']:.4f}" for u in ids) + " | |"))
        lines += [row for _, row in sorted(rows, key=lambda r: r[0])] + [""]
    lines += ["**Empirical coverage of the conformal intervals over the test windows** "
              "(per series; mean over seeds)", "",
              "| model | " + " | ".join(f"{u} 80% | {u} 90%" for u in ids) + " |",
              "|---|" + "---|" * (2 * len(ids))]
    for name, entry in ours.items():
        cov = entry["coverage"]
        lines.append(f"| {name} | " + " | ".join(f"{cov[u]['80']:.3f} | {cov[u]['90']:.3f}"
                                                  for u in ids) + " |")
    lines += ["", "**Training cost** (fit seconds: mean ± sd over seeds, all series; epochs "
              "per seed, per series for local rows; peers: steps)", "",
              "| model | fit s | forecast s (all windows) | epochs |", "|---|---|---|---|"]
    for name, entry in ours.items():
        lines.append(f"| {name} | {_cell(entry['fit_seconds'], 0)} | "
                     f"{_cell(entry['predict_seconds'], 0)} | {entry['epochs']} |")
    for name, entry in theirs.items():
        if entry.get("epochs"):
            lines.append(f"| {name} (peer) | | | {entry['unit']} {entry['epochs']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("run", "table"), default="run")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated rows, of " + ", ".join(MODELS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 of the networks")
    parser.add_argument("--out", type=Path, default=OUT, help="the report (JSON)")
    parser.add_argument("--peers", type=Path, default=PEERS, help="peers' report, for table")
    parser.add_argument("--quick", action="store_true",
                        help=f"max_epochs={QUICK_EPOCHS}, {QUICK_ROWS} rows per series, "
                             "stride 24 only: a smoke test")
    args = parser.parse_args(argv)
    if args.command == "table":
        print(table(args.out, args.peers))
        return 0
    models = args.models.split(",")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    import torch

    torch.set_num_threads(1)  # the protocol's single-thread CPU timings
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    run(models, args.seeds, args.out, args.quick,
        log=lambda text: print(text, file=sys.stderr, flush=True))
    print(table(args.out, args.peers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
