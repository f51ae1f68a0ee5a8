"""The docs/benchmarks.md sections of decisions already made, rendered from their JSON files.

The ablations, probes and selection studies behind TXL's defaults (section 4 and the prior of
section 7): their results stay in benchmarks/results, and `benchmarks.report` renders them
from here. The scripts that still run live in experiments/ (`python -m experiments.<name>`);
those that needed a switch the package no longer has were removed, and their tables are
rendered from the results they left.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

# every ablation variant ever run, and what it changes against the default `TXLForecaster`
VARIANT_CHANGES: dict[str, str] = {
    "default": "the defaults of the commit each cell names (burn_in=2 up to the file "
                "txl_ablation_3.json; burn_in=0 after it)",
    "nomem": "mem_len=0 (no memory)",
    "linear-only": "ridge linear path alone, network not trained (head = 0)",
    "seasonal-init": "linear path starts as the seasonal naive, no ridge warm start",
    "no-burn-in": "burn_in=0: scored tokens start with an empty memory",
    "burn-in2": "burn_in=2: two warm-up segments of four, the default before burn_in=0",
    "burn-in1": "burn_in=1: one warm-up segment of four instead of two",
    "stateful": "stateful=True: batch_size streams walk the history in time order, every "
                 "token scored with the memory carried over from the previous batch",
    "patch16": "patch_len=16, stride=8 (the old non-seasonal patches)",
    "mse": "MSE loss instead of Huber",
    "lr1e-3": "lr=1e-3 instead of 3e-4",
    "norm96": "norm_window=96 instead of the whole lookback",
    "revin-scale": "norm_scale=True: instance normalisation divides by the std too (RevIN)",
    "frozen-linear": "linear path kept at its ridge warm start during training",
    "normalised-loss": "training loss in each origin's normalised units",
    "off-grid-windows": "training windows start at random rows, not on the token grid",
    "mae": "L1 training loss (SegRNN's) instead of Huber",
    "dropout0.3": "dropout=0.3 (PatchTST's ETTh setting) instead of 0.1",
    "wd0.05": "weight_decay=0.05 instead of 1e-4",
    "d32": "d_model=32, d_ff=64: half the width",
    "mem48": "mem_len=48: attention spans 7-8 weeks of hourly data",
    "mem48-burn6": "mem_len=48 with burn-in covering it: n_segments=8, burn_in=6 (48 "
                    "warm-up tokens)",
    "lr1e-4": "lr=1e-4 (PatchTST's) instead of 3e-4",
    "val-quarter-epoch": "validation 4 times per epoch (early-stopping patience counts "
                          "checks)",
    "no-level-change": "tokens without the level/scale change since the previous token "
                        "(the memory cannot sum level drift)",
    "n-segments6": "n_segments=6: training samples of 48 tokens instead of 32",
    "max-epochs60": "max_epochs=60 instead of 30 (the cosine decay is spread over twice the "
                     "steps)",
    "ema": "weights averaged over training (Lightning's EMAWeightAveraging, decay 0.95: about "
            "two ETTh epochs); validation, early stopping and the kept model use the average",
    "stride12": "stride=12: hourly tokens every half day, overlapping by half (twice the "
                 "tokens; the newest token is at most 11 rows old instead of 23)",
    "stride24": "stride=24: half-hourly tokens every half day, overlapping by half (the "
                 "half-stride variant for patch_len 48)",
    "recent-mlp": "a small MLP (d_ff hidden units) from the last patch_len normalised rows "
                   "to the horizon, added to the forecast: the newest rows reach it "
                   "nonlinearly",
    "lags-all": "every token scored from all stride lags (24 origins a token) instead of 4 "
                 "random ones: six times the training targets per step",
    "segment16": "segment_len=16: segments of 16 tokens (the memory stays 16)",
    "layers3": "n_layers=3 instead of 2",
    "batch8": "batch_size=8 instead of 32: four times the optimiser steps per epoch",
    "no-channel-id": "tokens without the channel embedding: one network shared by every "
                      "channel, as in PatchTST",
    "lookback28": "lookback=28 rows (4 weeks of daily data; the default is 14 seasons)",
    "lookback56": "lookback=56 rows (8 weeks of daily data)",
}

# the readings of one fitted model in `experiments.txl_memory_probe`
READINGS = ("as fitted", "memory wiped", "linear path only")
SEASONS = (2, 4, 8, 14)  # lookbacks of the selection study, in seasons


def ablation_table(cells: list[dict[str, Any]]) -> str:
    """Markdown: one row per variant, one column per (data set, horizon)."""
    keys = sorted({(c["dataset"], c["horizon"]) for c in cells})
    names = [v for v in VARIANT_CHANGES if any(c["variant"] == v for c in cells)]
    head = "| variant | change | " + " | ".join(f"{d}-{h} test MSE (val)" for d, h in keys)
    lines = [head + " | epochs run |", "|" + "---|" * (len(keys) + 3)]
    for name in names:
        row, epochs = [], []
        for key in keys:
            got = [c for c in cells if c["variant"] == name and (c["dataset"], c["horizon"]) == key]
            if not got:
                row.append("–")
                continue
            mse = [c["mse"] for c in got]
            vals = [c["best_val_loss"] for c in got if c["best_val_loss"] is not None]
            if len(got) > 1:
                text = (f"{statistics.mean(mse):.4f} ± {statistics.stdev(mse):.4f} "
                        f"({len(got)} seeds)")
            else:
                text = f"{mse[0]:.4f}"
            text += f" ({statistics.mean(vals):.4f})" if vals else ""
            row.append(text)
            epochs += [str(c["epochs"]) for c in got]
        lines.append(f"| {name} | {VARIANT_CHANGES[name]} | " + " | ".join(row)
                     + f" | {','.join(epochs)} |")
    return "\n".join(lines)


def val_test_agreement(cells: list[dict[str, Any]], at_least: int = 5) -> list[str]:
    """Per (data set, horizon): Spearman rank correlation of validation and test MSE over the
    trained runs (every variant and seed); negative means validation ranks them backwards."""
    from scipy.stats import spearmanr

    lines = []
    for dataset, horizon in sorted({(c["dataset"], c["horizon"]) for c in cells}):
        runs = [c for c in cells if (c["dataset"], c["horizon"]) == (dataset, horizon)
                and c["best_val_loss"] is not None and c["epochs"]]
        if len(runs) < at_least:
            continue
        rho = spearmanr([c["best_val_loss"] for c in runs], [c["mse"] for c in runs])[0]
        best_val = min(runs, key=lambda c: c["best_val_loss"])
        best_test = min(runs, key=lambda c: c["mse"])
        lines.append(f"- {dataset}-{horizon}: Spearman {rho:+.2f} over {len(runs)} trained runs; "
                     f"the lowest validation MSE ({best_val['variant']}, "
                     f"{best_val['best_val_loss']:.4f}) scores {best_val['mse']:.4f} on test, "
                     f"the lowest test MSE is {best_test['mse']:.4f} ({best_test['variant']}).")
    return lines


def val_change_vs_default(cells: list[dict[str, Any]]) -> list[str]:
    """Per variant: its validation MSE against the default's, seed 0, averaged over the cells
    where both ran (negative: validation prefers the variant)."""
    val = {(c["dataset"], c["horizon"], c["variant"]): c["best_val_loss"] for c in cells
           if c["seed"] == 0 and c["best_val_loss"] is not None}
    lines = []
    for name in VARIANT_CHANGES:
        changes = [(d, h, v / val[(d, h, "default")] - 1) for (d, h, n), v in val.items()
                   if n == name != "default" and (d, h, "default") in val]
        if changes:
            mean = 100 * statistics.mean(x for _, _, x in changes)
            lines.append(f"- {name}: {mean:+.2f}% over {len(changes)} cells (" + ", ".join(
                f"{d}-{h} {100 * x:+.2f}%" for d, h, x in sorted(changes)) + ")")
    return lines


def half_stride_lines(results: Path) -> list[str]:
    """3 seeds at horizons 24 and 48 with the default (half) stride and with the whole patch,
    from `python -m txl_ts benchmark --dataset ETTh1,ETTh2,WTH --horizon H --models txl
    --seeds 3 --out-dir benchmarks/results/half_stride/default` (and `--txl-param stride=24
    ... /stride24`)."""
    root = results / "half_stride"
    runs = {}
    for path in sorted(root.glob("*/*.json")):
        report = json.loads(path.read_text())
        entry = report["models"]["txl"]
        if entry.get("runs"):
            runs[(report["dataset"], report["horizon"], path.parent.name)] = entry
    cells = sorted({(d, h) for d, h, _ in runs})
    if not cells:
        return []

    def fmt(entry: dict | None) -> str:
        if entry is None:
            return "–"
        vals = [v for r in entry["runs"]
                if (v := (r.get("fit_summary") or {}).get("best_val_loss")) is not None]
        fits = [r["fit_seconds"] for r in entry["runs"]]
        std = (entry.get("std") or {}).get("mse")
        val = f"val {statistics.mean(vals):.4f}; " if vals else ""
        return (f"{entry['mean']['mse']:.4f}" + (f" ± {std:.4f}" if std is not None else "")
                + f" ({val}fit {statistics.mean(fits):.0f} s)")

    lines = ["The half stride at short horizons, 3 seeds (`python -m txl_ts benchmark --horizon "
             "24` and `48` `--models txl --seeds 3`, with and without `--txl-param "
             "stride=24`; standard protocol, every test window; test MSE mean ± std, in "
             "brackets the mean best validation MSE and fit time):", "",
             "| cell | stride 24 (the whole patch) | default: stride 12 |", "|---|---|---|"]
    for d, h in cells:
        lines.append(f"| {d}-{h} | {fmt(runs.get((d, h, 'stride24')))} | "
                     f"{fmt(runs.get((d, h, 'default')))} |")
    return lines + [""]


def ablation_section(results: Path) -> list[str]:
    """docs/benchmarks.md section 4: one table per results file
    (`txl_ablation*.json`, each run on one version of the code), then attention and probe."""
    paths = sorted(results.glob("txl_ablation*.json"))
    if not paths:
        return []
    lines = [
        "## 4. TXL accuracy: ablation of each step", "",
        "Script: `python -m experiments.txl_ablation [--out FILE]`. Standard protocol (train / "
        "validation / test 12/4/4 months for ETTh, 70/10/20 for WTH and the CSV series of "
        "section 6, train-only scaling, \"M\"), the horizon in each "
        "column's head; every variant is the default `TXLForecaster` with one change, "
        "early-stopped on the validation split. Test MSE over every stride-1 test window "
        "(scaled units), seed 0 unless seeds are given; in brackets the best validation MSE "
        "(every full validation window), on which decisions are made, never on test. The "
        "ridge warm start chooses its strength on the same validation split. Differences below "
        "about 1% are within seed noise. Each table comes from one results file and compares "
        "runs of one version of the model code.", "",
    ]
    for path in paths:
        cells = json.loads(path.read_text())["cells"]
        m = cells[0]["machine"]
        commits = sorted({(c["machine"].get("git_commit") or "?")[:10] for c in cells})
        lines += [
            f"### `benchmarks/results/{path.name}`", "",
            f"Machine: {m['cpu']}, {m['cores']} cores shared with other jobs, no GPU, torch "
            f"{m['torch']}, one torch thread; commits {', '.join(commits)} (each cell records "
            "its own).", "",
            ablation_table(cells), "",
            "How well validation ranks the runs (`val_test_agreement`; runs whose warm start "
            "was kept count with the start's validation MSE):", "",
            *(val_test_agreement(cells) or ["- no cell has the 5 trained runs it needs."]), "",
            "Validation MSE of each variant against the default (seed 0, the cells where both "
            "ran; decisions are made on this):", "", *val_change_vs_default(cells), "",
        ]
    lines += half_stride_lines(results)
    for name in sorted(results.glob("txl_attention_*.json")):
        att = json.loads(name.read_text())
        lines.append(f"Attention of the default model on {att['dataset']} "
                     f"(`python -m experiments.txl_attention --dataset {att['dataset']}`, "
                     f"{att['fit_summary']['epochs']} epochs): " + "; ".join(
                         f"layer {a['layer']}: {a['memory_share']:.3f} of the attention on "
                         f"memory tokens (spread evenly: {a['uniform_memory_share']:.3f}), mean "
                         f"largest weight {a['max_weight_mean']:.3f} (evenly: "
                         f"{a['uniform_max_weight']:.3f})" for a in att["layers"]) + ".")
        lines.append("")
    return lines + memory_probe_lines(results) + ridge_padding_lines(results)


def memory_probe_lines(results: Path) -> list[str]:
    """What the trained memory contributes at prediction (`experiments.txl_memory_probe`)."""
    path = results / "txl_memory_probe.json"
    if not path.exists():
        return []
    cells = json.loads(path.read_text())["cells"]
    m = cells[0]["machine"]
    lines = [
        "What the trained memory contributes at prediction (`python -m "
        "experiments.txl_memory_probe`; one fitted default model per row, read three ways "
        "with the same weights; validation / test MSE over every stride-1 window; machine: "
        f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}; each row names its commit). "
        "\"Memory wiped\" runs the stream with "
        "mem_len=0, so tokens see only their own segment; \"linear path only\" sets the "
        "residual head's output to zero.", "",
        "| cell | seed | commit | epochs | kept warm start | "
        + " | ".join(f"{r}: val / test" for r in READINGS) + " |",
        "|" + "---|" * (len(READINGS) + 5),
    ]
    for c in cells:
        commit = (c["machine"].get("git_commit") or "?")[:10]
        kept = "yes" if c["fit_summary"].get("kept_start") else "no"
        lines.append(f"| {c['dataset']}-{c['horizon']} | {c['seed']} | {commit} | "
                     f"{c['fit_summary']['epochs']} | {kept} | " + " | ".join(
                         f"{c[r]['val']:.4f} / {c[r]['test']:.4f}" for r in READINGS) + " |")
    return lines + [""]


def ridge_padding_lines(results: Path) -> list[str]:
    """The ridge warm start with and without padded origins: the measurement that made
    `fit_linear_path` fit complete lookbacks only (its script left with the switch)."""
    path = results / "ridge_padding.json"
    if not path.exists():
        return []
    d = json.loads(path.read_text())
    m = d["machine"]
    lines = [
        "The ridge warm start with and without padded origins (`benchmarks/ridge_padding.py`, "
        f"since removed; {m['cpu']}, {m['cores']} cores, torch {m['torch']}, commit "
        f"{(m.get('git_commit') or '?')[:10]}). Ten weeks of synthetic half-hourly load, "
        "horizon 48, MSE over every window of the last two weeks:", "",
        "| forecast | MSE |", "|---|---:|",
        *[f"| {k} | {v:.4f} |" for k, v in d["synthetic"].items()], "",
        "The linear path alone (network untrained) on the standard protocol, seed 0: test MSE "
        "(validation MSE):", "",
        "| cell | padded origins | complete lookbacks only |", "|---|---|---|",
    ]
    for r in d["protocol"]:
        lines.append(f"| {r['dataset']}-{r['horizon']} | " + " | ".join(
            f"{r[k]['test']:.4f} ({r[k]['val']:.4f})" for k in ("padded", "complete")) + " |")
    return lines + [""]


RULES = {"V": (0.0, False), "V1": (0.01, False), "R0": (0.0, True), "R1": (0.01, True)}


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


def selection_section(results: Path) -> list[str]:
    """Tables: the network against its warm start (and on an earlier fold), and the lookback
    by validation."""
    path = results / "selection_evidence.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = ["### Validation against test: what the validation split can choose", "",
             f"Script: `benchmarks/selection_evidence.py`, since removed (machine: "
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


def ridge_prior_section(results: Path) -> list[str]:
    """A table: each cell's validation MSE under each prior and the one kept."""
    path = results / "ridge_prior.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    lines = ["### The linear path's warm-start prior", "",
             "Script: `python -m experiments.ridge_prior` (see its docstring; machine: "
             f"{data['machine']['cpu']}, torch {data['machine']['torch']}). Validation MSE of "
             "the best ridge fit towards each prior, network untrained; repeat-last is kept "
             "only when more than 1% lower.", "",
             "| cell | seasonal naive prior | repeat-last prior | repeat-last lower by | kept |",
             "|---|---|---|---|---|"]
    for row in data["cells"]:
        seasonal, last = row["val_mse"]["seasonal"], row["val_mse"]["last"]
        lines.append(f"| {row['dataset']} {row['features']}-{row['horizon']} | {seasonal:.5f} "
                     f"| {last:.5f} | {100 * (1 - last / seasonal):+.2f}% | {row['kept']} |")
    return [*lines, ""]
