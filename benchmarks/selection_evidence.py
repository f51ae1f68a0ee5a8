"""Validation against test: can the validation split choose between TXL's trained network and
its ridge warm start, or choose the linear path's lookback?

    python -m benchmarks.selection_evidence [--seed 0] [--cells ETTh1:96,...]
    python -m benchmarks.selection_evidence --earlier-fold [--seed 0] [--cells ...]
    python -m benchmarks.selection_evidence --lookbacks-only \
        --unseen-dir DIR --low-frequency-dir DIR
    python -m benchmarks.selection_evidence --fresh [--seed 0] \
        --unseen-dir DIR --low-frequency-dir DIR

Three measurements on the standard protocol (fit on train, validation rows for early stopping
and selection, every test window):

- **Network or warm start.** Per cell (the 12 grid cells by default, one seed a run), the default
  `TXLForecaster` trained, and the same model with the network untrained (its ridge warm
  start alone). For blends `w * trained + (1 - w) * warm start` (w = 0, 0.25, 0.5, 0.75, 1)
  the validation and test MSE; and a Diebold-Mariano statistic on the validation rows: the
  mean per-origin loss difference (trained minus warm start) over its standard error, with
  Newey-West errors over horizon - 1 lags for the overlapping windows (statsmodels' HAC).
- **An earlier fold** (`--earlier-fold`). The default model fitted on the first 80% of the
  training rows and validated on the other 20%: does the network beat its warm start there?
- **Fresh cells** (`--fresh`). Both measurements above on the unseen-data and daily/coarse
  benchmarks (the CSV files of `benchmarks.unseen_data` and `benchmarks.low_frequency`),
  which the keep-the-network rules of `RULES` were not drawn from; the rules are then
  compared on test by a decision test fixed before these runs (`_decision`).
- **Lookback.** Per cell, the warm start alone (no seed enters) at lookbacks of 2, 4, 8 and
  14 seasons: which one validation prefers, and the test MSE of each.

Results go to benchmarks/results/selection_evidence.json (cells already there are kept);
docs/benchmarks.md section 4 renders them (`python -m benchmarks.report`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine, set_threads

OUT = RESULTS / "selection_evidence.json"
GRID = [(name, h) for name in ("ETTh1", "ETTh2", "WTH") for h in (96, 192, 336, 720)]
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SEASONS = (2, 4, 8, 14)


def _errors(model, df, cutoffs: np.ndarray, horizon: int, scale: np.ndarray) -> np.ndarray:
    """(n, H, C) errors of the forecasts from every cutoff, in train-scaled units."""
    forecasts = model.rolling_forecasts(df.iloc[: cutoffs[-1] + 1 + horizon], cutoffs)
    values = df.to_numpy()
    targets = np.stack([values[c + 1 : c + 1 + horizon] for c in cutoffs])
    return (forecasts - targets) / scale


def _fit_pair(dataset: str, horizon: int, seed: int, params: dict | None = None,
              features: str = "M"):
    from benchmarks.txl_ablation import _untrained
    from txl_ts.benchmark import load_protocol, make_model

    df, split = load_protocol(dataset, features)
    train = df.iloc[: split.train_end]
    valid = df.iloc[split.train_end : split.test_start]
    trained = make_model("txl", horizon, seed, txl_params=params).fit(train, valid)
    with _untrained():
        start = make_model("txl", horizon, seed, txl_params=params).fit(train, valid)
    return df, split, trained, start


def network_cell(dataset: str, horizon: int, seed: int) -> dict:
    """Blends of the trained model and its warm start, and the validation DM statistic."""
    from txl_ts.benchmark import dataset_label

    df, split, trained, start = _fit_pair(dataset, horizon, seed)
    return network_row(dataset_label(dataset), df, split, trained, start, horizon, seed)


def network_row(label: str, df, split, trained, start, horizon: int, seed: int) -> dict:
    import statsmodels.api as sm
    from sklearn.preprocessing import StandardScaler

    # the protocol's scaler (a constant training column keeps scale 1)
    scale = StandardScaler().fit(df.iloc[: split.train_end].to_numpy()).scale_
    row = {"dataset": label, "horizon": horizon, "seed": seed,
           "kept_start": trained.fit_summary_["kept_start"],
           "epochs": trained.fit_summary_["epochs"]}
    parts = {"val": np.arange(split.train_end - 1, split.test_start - horizon),
             "test": np.arange(split.test_start - 1, split.end - horizon)}
    for part, cutoffs in parts.items():
        e_trained = _errors(trained, df, cutoffs, horizon, scale)
        e_start = _errors(start, df, cutoffs, horizon, scale)
        row[f"{part}_mse"] = {str(w): float(np.mean((e_start + w * (e_trained - e_start)) ** 2))
                              for w in WEIGHTS}
        if part == "val":
            diff = (e_trained ** 2).mean(axis=(1, 2)) - (e_start ** 2).mean(axis=(1, 2))
            row["val_dm"] = None  # the warm start was kept: the two forecasts are one
            if not row["kept_start"]:
                fit = sm.OLS(diff, np.ones(len(diff))).fit(
                    cov_type="HAC", cov_kwds={"maxlags": horizon - 1})
                row["val_dm"] = float(fit.params[0] / fit.bse[0])
    return row


def fold_cell(dataset: str, horizon: int, seed: int, fraction: float = 0.8,
              features: str = "M") -> dict:
    """An earlier validation fold: the default model fitted on the first `fraction` of the
    training rows, validated on the rest of them (the test rows never enter). Whether the
    trained network beats its warm start there, as on the protocol's validation rows?"""
    from txl_ts.benchmark import dataset_label, load_protocol, make_model

    df, split = load_protocol(dataset, features)
    cut = int(fraction * split.train_end)
    model = make_model("txl", horizon, seed).fit(df.iloc[:cut], df.iloc[cut : split.train_end])
    summary = model.fit_summary_
    return {"dataset": dataset_label(dataset), "horizon": horizon, "seed": seed,
            "fraction": fraction, "val_start": summary["start_val_loss"],
            "val_trained": summary["best_val_loss"], "kept_start": summary["kept_start"],
            "epochs": summary["epochs"]}


def fresh_cell(dataset: str, horizon: int, features: str, seed: int) -> dict:
    """Both measurements on one cell the selection rules were not drawn from: the trained
    model against its warm start on the protocol (validation and test), and the earlier fold."""
    from txl_ts.benchmark import dataset_label

    df, split, trained, start = _fit_pair(dataset, horizon, seed, features=features)
    row = network_row(dataset_label(dataset), df, split, trained, start, horizon, seed)
    fold = fold_cell(dataset, horizon, seed, features=features)
    return {**row, "features": features,
            "fold": {k: fold[k] for k in ("val_start", "val_trained", "kept_start", "epochs")}}


def rule_test(row: dict, fold: dict | None, margin: float, two_folds: bool) -> float:
    """The test MSE of the model a keep-the-network rule chooses in one run: the network is
    kept iff it beats its warm start by at least `margin` on the validation rows and, with
    `two_folds`, on the earlier fold too."""
    gain = row["val_mse"]["1.0"] / row["val_mse"]["0.0"] - 1
    keep = not row["kept_start"] and gain <= -margin
    if keep and two_folds:
        keep = (not fold["kept_start"]
                and fold["val_trained"] / fold["val_start"] - 1 <= -margin)
    return row["test_mse"]["1.0" if keep else "0.0"]


RULES = {"V": (0.0, False), "V1": (0.01, False), "R0": (0.0, True), "R1": (0.01, True)}


def lookback_cell(dataset: str, horizon: int) -> dict:
    """The warm start alone at 2, 4, 8 and 14 seasons of lookback: validation and test MSE."""
    from benchmarks.txl_ablation import _untrained
    from txl_ts.backtest import backtest
    from txl_ts.benchmark import dataset_label, load_protocol, make_model, seasons_of

    df, split = load_protocol(dataset, "M")
    season = seasons_of(df)[0] or 1
    rows = {}
    for n in SEASONS:
        model = make_model("txl", horizon, 0, txl_params={"lookback": n * season})
        with _untrained():
            result = backtest({"txl": model}, df, horizon, start=split.test_start,
                              end=split.end, train_end=split.train_end, mase_lag=season,
                              keep_forecasts=False)
        rows[str(n)] = {"val": result.models["txl"].fit_summary_["linear_init_val_mse"],
                        "test": float(result.metrics.loc["txl", "mse"])}
    return {"dataset": dataset_label(dataset), "horizon": horizon, "season": season,
            "by_seasons": rows}


def fresh_cells(unseen_dir: Path, low_frequency_dir: Path) -> list[tuple[str, int, str]]:
    """(csv path, horizon, features) of the unseen-data and daily/coarse benchmarks."""
    from benchmarks.low_frequency import HORIZONS
    from benchmarks.ridge_prior import UNSEEN

    return ([(str(unseen_dir / f"{d}.csv"), h, f) for d, h, f in UNSEEN]
            + [(str(low_frequency_dir / f"{stem}.csv"), h, "M")
               for stem, hs in HORIZONS.items() for h in hs])


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", default=",".join(f"{d}:{h}" for d, h in GRID),
                        help="DATASET:HORIZON,... for the network measurement")
    parser.add_argument("--lookbacks-only", action="store_true")
    parser.add_argument("--no-lookbacks", action="store_true")
    parser.add_argument("--earlier-fold", action="store_true",
                        help="only the earlier-fold measurement of --cells")
    parser.add_argument("--fresh", action="store_true",
                        help="both measurements on the unseen and daily cells (needs the "
                             "two directories below)")
    parser.add_argument("--unseen-dir", type=Path, default=None)
    parser.add_argument("--low-frequency-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    set_threads(1)
    data = (json.loads(args.out.read_text()) if args.out.is_file()
            else {"network": [], "lookback": []})
    data["machine"] = machine()

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=1))

    from txl_ts.benchmark import dataset_label

    def run_cells(key: str, measure) -> None:
        """Measure every cell of --cells at --seed not yet in data[key], saving after each."""
        done = {(r["dataset"], r["horizon"], r["seed"]) for r in data.setdefault(key, [])}
        for cell in args.cells.split(","):
            name, horizon = cell.rsplit(":", 1)
            if (dataset_label(name), int(horizon), args.seed) not in done:
                data[key].append(measure(name, int(horizon), args.seed))
                print(json.dumps(data[key][-1]), flush=True)
                save()

    if args.earlier_fold:
        run_cells("fold", fold_cell)
        return args.out
    if args.fresh:
        done = {(r["dataset"], r["features"], r["horizon"], r["seed"])
                for r in data.setdefault("fresh", [])}
        for path, horizon, features in fresh_cells(args.unseen_dir, args.low_frequency_dir):
            if (dataset_label(path), features, horizon, args.seed) not in done:
                data["fresh"].append(fresh_cell(path, horizon, features, args.seed))
                print(json.dumps(data["fresh"][-1]), flush=True)
                save()
        return args.out
    if not args.lookbacks_only:
        run_cells("network", network_cell)
    cells = [] if args.no_lookbacks else list(GRID)
    if args.unseen_dir:
        from benchmarks.ridge_prior import UNSEEN

        cells += [(str(args.unseen_dir / f"{d}.csv"), h) for d, h, f in UNSEEN if f == "M"]
    if args.low_frequency_dir:
        from benchmarks.low_frequency import HORIZONS

        cells += [(str(args.low_frequency_dir / f"{stem}.csv"), h)
                  for stem, hs in HORIZONS.items() for h in hs]
    done = {(r["dataset"], r["horizon"]) for r in data["lookback"]}
    for name, horizon in cells:
        if (dataset_label(name), horizon) in done:
            continue
        data["lookback"].append(lookback_cell(name, horizon))
        print(json.dumps(data["lookback"][-1]), flush=True)
        save()
    save()
    return args.out


def _by_cell(rows: list[dict]) -> dict[tuple[str, int], list[dict]]:
    cells: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["horizon"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in cells.items()}


def _mean_by_weight(rows: list[dict], key: str) -> dict[str, float]:
    return {w: sum(r[key][w] for r in rows) / len(rows) for w in rows[0][key]}


def _mean_change(rows: list[dict], key: str) -> float:
    """Mean over runs of the trained model's MSE change against its warm start."""
    return sum(r[key]["1.0"] / r[key]["0.0"] - 1 for r in rows) / len(rows)


def _rule_means(pairs: list[tuple[dict, dict | None]]) -> dict[tuple, dict[str, float]]:
    """Per cell, the mean test MSE over seeds of the model each rule of RULES keeps, and
    the number of seeds."""
    cells: dict[tuple, list] = {}
    for row, fold in pairs:
        key = (row["dataset"], row.get("features", "M"), row["horizon"])
        cells.setdefault(key, []).append((row, fold))
    return {key: {**{name: sum(rule_test(r, f, m, two) for r, f in runs) / len(runs)
                     for name, (m, two) in RULES.items()}, "seeds": len(runs)}
            for key, runs in cells.items()}


def _rules_table(data: dict) -> list[str]:
    """The keep-the-network rules on the grid (from the network and fold measurements) and
    on the fresh cells."""
    folds = {(r["dataset"], r["horizon"], r["seed"]): r for r in data.get("fold", [])}
    grid = [(r, folds[(r["dataset"], r["horizon"], r["seed"])]) for r in data["network"]
            if (r["dataset"], r["horizon"], r["seed"]) in folds]
    fresh = [(r, r["fold"]) for r in data.get("fresh", [])]
    if not grid and not fresh:
        return []
    lines = ["**Rules that keep the trained network or its warm start**, test MSE (mean over "
             "seeds) of the model each keeps. V: the network when it validates lower (today's "
             "default); V1: lower by at least 1%; R0: lower on the validation rows and on the "
             "earlier fold; R1: lower by at least 1% on both. \"Fresh\" cells are the unseen "
             "and daily/coarse benchmarks (sections 6 and 7), measured after R1 was written "
             "down from the grid's numbers.", "",
             "| set | cell | seeds | V | V1 | R0 | R1 | R1 against V |",
             "|---|---|---|---|---|---|---|---|"]
    for label, pairs in (("grid", grid), ("fresh", fresh)):
        means = _rule_means(pairs)
        for key, m in means.items():
            name = f"{key[0]} {key[1]}-{key[2]}" if label == "fresh" else f"{key[0]}-{key[2]}"
            lines.append(f"| {label} | {name} | {m['seeds']} | "
                         + " | ".join(f"{m[r]:.4f}" for r in RULES)
                         + f" | {100 * (m['R1'] / m['V'] - 1):+.1f}% |")
        if means:
            changes = [m["R1"] / m["V"] - 1 for m in means.values()]
            differ = [c for c in changes if c != 0]
            lines.append(f"| {label} | mean over {len(means)} cells ({len(differ)} where R1 "
                         f"differs) | | | | | | {100 * sum(changes) / len(changes):+.2f}% |")
        if label == "fresh" and means:
            lines += ["", *_decision(means)]
    lines.append("")
    return lines


def _decision(means: dict[tuple, dict[str, float]]) -> list[str]:
    """The test written down before the fresh cells ran: adopt R1 iff, over the cells where
    it differs from V, its mean change is negative and it is worse by more than 0.5% in no
    more cells than it is better by more than 0.5%."""
    differ = [m["R1"] / m["V"] - 1 for m in means.values() if m["R1"] != m["V"]]
    if not differ:
        return ["R1 keeps the same model as V in every fresh run."]
    mean = sum(differ) / len(differ)
    worse = sum(c > 0.005 for c in differ)
    better = sum(c < -0.005 for c in differ)
    adopt = mean < 0 and worse <= better
    return [f"Decision rule, written down before the fresh cells ran: adopt R1 if, over the "
            f"fresh cells where it differs from V, its mean test change is negative and it is "
            f"worse by more than 0.5% in no more cells than it is better by more than 0.5%. "
            f"Measured over {len(differ)} such cells: mean {100 * mean:+.2f}%, worse in "
            f"{worse}, better in {better}: R1 is {'adopted' if adopt else 'not adopted'}."]


def section(results: Path) -> list[str]:
    """Tables: the network against its warm start (and on an earlier fold), and the lookback
    by validation."""
    path = results / "selection_evidence.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = ["### Validation against test: what the validation split can choose", "",
             f"Script: `python -m benchmarks.selection_evidence` (see its docstring; machine: "
             f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}). MSE on train-scaled values, "
             "every window; \"warm start\" is the default model with its network untrained "
             "(the ridge linear path alone).", ""]
    network = _by_cell(data["network"])
    if network:
        lines += ["**The trained network against its warm start** (mean over the seeds "
                  "shown; blends `w * trained + (1 - w) * warm start`, w chosen on the mean "
                  "validation MSE; DM: the Diebold-Mariano statistic of trained minus warm "
                  "start on the validation rows, negative when the network is better, its "
                  "range over seeds).", "",
                  "| cell | seeds | val: warm start / w=0.5 / trained | test: warm start / "
                  "w=0.5 / trained | w validation picks | test at that w | DM (val) |",
                  "|---|---|---|---|---|---|---|"]
        for (name, horizon), rows in network.items():
            val, test = _mean_by_weight(rows, "val_mse"), _mean_by_weight(rows, "test_mse")
            pick = min(val, key=val.get)
            dms = [r["val_dm"] for r in rows if r["val_dm"] is not None]
            dm = ("–" if not dms else f"{min(dms):+.2f}" if len(dms) == 1
                  else f"{min(dms):+.2f} to {max(dms):+.2f}")
            lines.append(
                f"| {name}-{horizon} | {','.join(str(r['seed']) for r in rows)} | "
                f"{val['0.0']:.4f} / {val['0.5']:.4f} / {val['1.0']:.4f} | {test['0.0']:.4f} / "
                f"{test['0.5']:.4f} / {test['1.0']:.4f} | {pick} | {test[pick]:.4f} | {dm} |")
        runs = data["network"]
        better_val = sum(r["val_mse"]["1.0"] < r["val_mse"]["0.0"] for r in runs)
        better_test = sum(r["test_mse"]["1.0"] < r["test_mse"]["0.0"] for r in runs)
        lines += ["", f"The trained network validates lower than its warm start in "
                  f"{better_val} of {len(runs)} runs ({len(network)} cells) and tests lower "
                  f"in {better_test}.", ""]
    folds = _by_cell(data.get("fold", []))
    if folds:
        lines += ["**An earlier validation fold** (`--earlier-fold`: the default model fitted "
                  "on the first 80% of the training rows and validated on the last 20%; the "
                  "test rows never enter). The network's MSE change against its warm start on "
                  "each fold and on test, means over the seeds shown (the other two columns "
                  "over the same seeds, from the table above).", "",
                  "| cell | seeds | earlier fold | protocol validation | test |",
                  "|---|---|---|---|---|"]
        for cell, rows in folds.items():
            change = sum(r["val_trained"] / r["val_start"] - 1 for r in rows) / len(rows)
            kept = sum(r["kept_start"] for r in rows)
            seeds = {r["seed"] for r in rows}
            paired = [r for r in network.get(cell, []) if r["seed"] in seeds]
            later = test = "–"
            if paired:
                later = f"{100 * _mean_change(paired, 'val_mse'):+.2f}%"
                test = f"{100 * _mean_change(paired, 'test_mse'):+.2f}%"
            note = f" (warm start kept {kept}/{len(rows)})" if kept else ""
            lines.append(f"| {cell[0]}-{cell[1]} | {','.join(str(r['seed']) for r in rows)} "
                         f"| {100 * change:+.2f}%{note} | {later} | {test} |")
        lines.append("")
    lines += _rules_table(data)
    if data["lookback"]:
        lines += ["**The lookback, chosen by the warm start's validation MSE** (no seed "
                  "enters; the default is 14 seasons).", "",
                  "| cell | season | validation MSE at 2 / 4 / 8 / 14 seasons | test MSE at "
                  "2 / 4 / 8 / 14 | validation picks | its test against 14 seasons |",
                  "|---|---|---|---|---|---|"]
        for r in data["lookback"]:
            by = r["by_seasons"]
            pick = min(by, key=lambda k: by[k]["val"])
            change = by[pick]["test"] / by["14"]["test"] - 1
            lines.append(
                f"| {r['dataset']}-{r['horizon']} | {r['season']} | "
                + " / ".join(f"{by[k]['val']:.4f}" for k in map(str, SEASONS)) + " | "
                + " / ".join(f"{by[k]['test']:.4f}" for k in map(str, SEASONS))
                + f" | {pick} | {100 * change:+.1f}% |")
        lines.append("")
    return lines


if __name__ == "__main__":
    print(main())
