"""Ablation of TXL's accuracy design, one step on/off at a time, on the standard protocol.

Each variant is the default `TXLForecaster` with one change; every cell is fitted on the
train split, early-stopped on the validation split and scored on every stride-1 test window
(`txl_ts.benchmark`). Results go to benchmarks/results/txl_ablation.json (finished cells are
skipped on a rerun); docs/benchmarks.md is then rebuilt (`benchmarks.report` renders the table).

    OMP_NUM_THREADS=1 python -m benchmarks.txl_ablation --datasets ETTh1,ETTh2 --seeds 1
    python -m benchmarks.txl_ablation --table
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import EMAWeightAveraging
from torch import nn

from benchmarks import report
from benchmarks.common import RESULTS, machine
from txl_ts import forecaster as forecaster_module
from txl_ts.backtest import backtest
from txl_ts.benchmark import dataset_label, load_protocol, make_model, seasons_of
from txl_ts.txl.net import TXLNet, norm_stats

OUT = RESULTS / "txl_ablation.json"

# name -> (what changes, TXLForecaster params, train the network?, TXLModule options)
VARIANTS: dict[str, tuple[str, dict[str, Any], bool, dict[str, Any]]] = {
    "default": ("the defaults of the commit each cell names (burn_in=2 up to the file "
                "txl_ablation_3.json; burn_in=0 after it)", {}, True, {}),
    "nomem": ("mem_len=0 (no memory)", {"mem_len": 0}, True, {}),
    "linear-only": ("ridge linear path alone, network not trained (head = 0)", {}, False, {}),
    "seasonal-init": ("linear path starts as the seasonal naive, no ridge warm start",
                      {"linear_init": "seasonal"}, True, {}),
    "no-burn-in": ("burn_in=0: scored tokens start with an empty memory", {"burn_in": 0},
                   True, {}),
    "burn-in2": ("burn_in=2: two warm-up segments of four, the default before burn_in=0",
                 {"burn_in": 2}, True, {}),
    "burn-in1": ("burn_in=1: one warm-up segment of four instead of two", {"burn_in": 1},
                 True, {}),
    "stateful": ("stateful=True: batch_size streams walk the history in time order, every "
                 "token scored with the memory carried over from the previous batch",
                 {"stateful": True, "burn_in": 0}, True, {}),
    "patch16": ("patch_len=16, stride=8 (the old non-seasonal patches)",
                {"patch_len": 16, "stride": 8}, True, {}),
    "mse": ("MSE loss instead of Huber", {"loss": "mse"}, True, {}),
    "lr1e-3": ("lr=1e-3 instead of 3e-4", {"lr": 1e-3}, True, {}),
    "norm96": ("norm_window=96 instead of the whole lookback", {"norm_window": 96}, True, {}),
    "revin-scale": ("norm_scale=True: instance normalisation divides by the std too (RevIN)",
                    {"norm_scale": True}, True, {}),
    "frozen-linear": ("linear path kept at its ridge warm start during training", {}, True,
                      {"linear_lr": 0.0}),
    "normalised-loss": ("training loss in each origin's normalised units", {}, True,
                        {"normalised_loss": True}),
    "off-grid-windows": ("training windows start at random rows, not on the token grid", {},
                         True, {"jitter": True}),
    "mae": ("L1 training loss (SegRNN's) instead of Huber", {"loss": "mae"}, True, {}),
    "dropout0.3": ("dropout=0.3 (PatchTST's ETTh setting) instead of 0.1", {"dropout": 0.3},
                   True, {}),
    "wd0.05": ("weight_decay=0.05 instead of 1e-4", {"weight_decay": 0.05}, True, {}),
    "d32": ("d_model=32, d_ff=64: half the width", {"d_model": 32, "d_ff": 64}, True, {}),
    "mem48": ("mem_len=48: attention spans 7-8 weeks of hourly data", {"mem_len": 48}, True,
              {}),
    "mem48-burn6": ("mem_len=48 with burn-in covering it: n_segments=8, burn_in=6 (48 "
                    "warm-up tokens)", {"mem_len": 48, "n_segments": 8, "burn_in": 6}, True,
                    {}),
    "lr1e-4": ("lr=1e-4 (PatchTST's) instead of 3e-4", {"lr": 1e-4}, True, {}),
    "val-quarter-epoch": ("validation 4 times per epoch (early-stopping patience counts "
                          "checks)", {"trainer_kwargs": {"enable_progress_bar": False,
                                                         "val_check_interval": 0.25}},
                          True, {}),
    "no-level-change": ("tokens without the level/scale change since the previous token "
                        "(the memory cannot sum level drift)", {}, True, {"no_change": True}),
    "n-segments6": ("n_segments=6: training samples of 48 tokens instead of 32",
                    {"n_segments": 6}, True, {}),
    "max-epochs60": ("max_epochs=60 instead of 30 (the cosine decay is spread over twice the "
                     "steps)", {"max_epochs": 60}, True, {}),
    "ema": ("weights averaged over training (Lightning's EMAWeightAveraging, decay 0.95: about "
            "two ETTh epochs); validation, early stopping and the kept model use the average",
            {"trainer_kwargs": {"enable_progress_bar": False,
                                "callbacks": [EMAWeightAveraging(decay=0.95)]}}, True, {}),
    "stride12": ("stride=12: hourly tokens every half day, overlapping by half (twice the "
                 "tokens; the newest token is at most 11 rows old instead of 23)",
                 {"stride": 12}, True, {}),
    "stride24": ("stride=24: half-hourly tokens every half day, overlapping by half (the "
                 "half-stride variant for patch_len 48)", {"stride": 24}, True, {}),
    "recent-mlp": ("a small MLP (d_ff hidden units) from the last patch_len normalised rows "
                   "to the horizon, added to the forecast: the newest rows reach it "
                   "nonlinearly", {}, True, {"recent": True}),
    "lags-all": ("every token scored from all stride lags (24 origins a token) instead of 4 "
                 "random ones: six times the training targets per step",
                 {}, True, {"lags_per_token": 10**6}),
    "segment16": ("segment_len=16: segments of 16 tokens (the memory stays 16)",
                  {"segment_len": 16}, True, {}),
    "layers3": ("n_layers=3 instead of 2", {"n_layers": 3}, True, {}),
    "batch8": ("batch_size=8 instead of 32: four times the optimiser steps per epoch",
               {"batch_size": 8}, True, {}),
    "no-channel-id": ("tokens without the channel embedding: one network shared by every "
                      "channel, as in PatchTST", {}, True, {"no_channel": True}),
    "lookback28": ("lookback=28 rows (4 weeks of daily data; the default is 14 seasons)",
                   {"lookback": 28}, True, {}),
    "lookback56": ("lookback=56 rows (8 weeks of daily data)", {"lookback": 56}, True, {}),
}


@contextmanager
def _untrained():
    """Skip the network's training (the ridge linear path is still fitted)."""
    real = forecaster_module.fit_module
    forecaster_module.fit_module = lambda *a, **k: {"epochs": 0, "best_val_loss": None,
                                                     "stopped_early": False}
    try:
        yield
    finally:
        forecaster_module.fit_module = real


def run_cell(dataset: str, horizon: int, variant: str, seed: int) -> dict[str, Any]:
    _, params, train, module_options = VARIANTS[variant]
    df, split = load_protocol(dataset, "M")
    model = make_model("txl", horizon, seed, txl_params=params)
    started = time.perf_counter()
    with _untrained() if not train else _module_options(module_options):
        result = backtest({"txl": model}, df, horizon, start=split.test_start, end=split.end,
                          train_end=split.train_end, mase_lag=seasons_of(df)[0] or 1,
                          keep_forecasts=False)
    metrics = result.metrics.loc["txl"]
    summary = result.models["txl"].fit_summary_
    return {"dataset": dataset_label(dataset), "horizon": horizon, "variant": variant,
            "seed": seed,
            "mse": float(metrics["mse"]), "mae": float(metrics["mae"]),
            "best_val_loss": summary.get("best_val_loss"), "epochs": summary.get("epochs"),
            "stopped_early": summary.get("stopped_early"),
            "ridge_alpha": summary.get("linear_init_alpha"),
            "ridge_val_mse": summary.get("linear_init_val_mse"),
            "fit_seconds": summary.get("fit_seconds"),
            "run_seconds": time.perf_counter() - started,
            "params": json.loads(json.dumps(params, default=repr)),
            "module_options": module_options}


class RecentRowsNet(TXLNet):
    """TXLNet plus a small MLP (d_ff hidden units) from the last patch_len normalised rows
    before an origin to the horizon, added to the forecast (the "recent-mlp" variant): the
    newest rows reach the forecast nonlinearly, while the newest token can be up to
    stride - 1 rows old. Its output layer starts at zero, so the untrained model is the
    default's."""

    def __init__(self, config):
        super().__init__(config)
        self.recent = nn.Sequential(nn.Linear(config.patch_len, config.d_ff), nn.GELU(),
                                    nn.Dropout(config.dropout),
                                    nn.Linear(config.d_ff, config.horizon))
        nn.init.zeros_(self.recent[-1].weight)
        nn.init.zeros_(self.recent[-1].bias)

    def forecast(self, lookback, residual):
        mu, sigma = norm_stats(lookback, self.config.norm_window, self.config.scale)
        x = lookback[..., -self.config.lookback :] - mu
        x = x if sigma is None else x / sigma
        out = self.linear(x) + self.recent(x[..., -self.config.patch_len :]) + residual
        return mu + (out if sigma is None else sigma * out)


@contextmanager
def _module_options(options: dict[str, Any]):
    """Train with `TXLModule(..., **options)`: switches that are not estimator parameters."""
    real, real_build = forecaster_module.TXLModule, forecaster_module.TXLForecaster._build_net
    forecaster_module.TXLForecaster._JITTER = options.get("jitter", False)
    switches = ("jitter", "no_change", "no_channel", "recent")  # handled here, not by TXLModule
    real_net = forecaster_module.TXLNet
    if options.get("recent"):
        forecaster_module.TXLNet = RecentRowsNet
    forecaster_module.TXLModule = functools.partial(
        real, **{k: v for k, v in options.items() if k not in switches})
    if options.get("no_change") or options.get("no_channel"):
        def build_without(self, n_channels):
            net = real_build(self, n_channels)
            # the switched-off inputs output zeros and never train
            off = [net.change] if options.get("no_change") else []
            off += [net.channel] if options.get("no_channel") else []
            with torch.no_grad():
                for module in off:
                    for param in module.parameters():
                        param.zero_()
                    module.requires_grad_(False)
            return net

        forecaster_module.TXLForecaster._build_net = build_without
    try:
        yield
    finally:
        forecaster_module.TXLModule = real
        forecaster_module.TXLForecaster._build_net = real_build
        forecaster_module.TXLNet = real_net
        forecaster_module.TXLForecaster._JITTER = False


def _load() -> dict[str, Any]:
    return json.loads(OUT.read_text()) if OUT.exists() else {"cells": []}


def run(datasets: list[str], horizons: list[int], variants: list[str], seeds: int) -> None:
    report = _load()
    done = {(c["dataset"], c["horizon"], c["variant"], c["seed"]) for c in report["cells"]}
    for dataset in datasets:
        for horizon in horizons:
            for variant in variants:
                for seed in range(seeds):
                    if (dataset_label(dataset), horizon, variant, seed) in done:
                        continue
                    cell = run_cell(dataset, horizon, variant, seed)
                    cell["machine"] = machine()
                    report["cells"].append(cell)
                    OUT.parent.mkdir(exist_ok=True)
                    tmp = OUT.with_suffix(".tmp")
                    tmp.write_text(json.dumps(report, indent=1))
                    tmp.replace(OUT)
                    print(f"{dataset_label(dataset)}-{horizon} {variant:14s} seed={seed} "
                          f"mse={cell['mse']:.4f} "
                          f"val={cell['best_val_loss']} epochs={cell['epochs']} "
                          f"fit={cell['fit_seconds']:.0f}s", flush=True)


def table(cells: list[dict[str, Any]]) -> str:
    """Markdown: one row per variant, one column per (data set, horizon)."""
    keys = sorted({(c["dataset"], c["horizon"]) for c in cells})
    names = [v for v in VARIANTS if any(c["variant"] == v for c in cells)]
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
        lines.append(f"| {name} | {VARIANTS[name][0]} | " + " | ".join(row)
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
    for name in VARIANTS:
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


def section(results: Path) -> list[str]:
    """The docs/benchmarks.md section (rendered by `benchmarks.report`): one table per results file
    (`txl_ablation*.json`, each run on one version of the code), then attention and probe."""
    paths = sorted(results.glob("txl_ablation*.json"))
    if not paths:
        return []
    lines = [
        "## 4. TXL accuracy: ablation of each step (issue 9)", "",
        "Script: `python -m benchmarks.txl_ablation [--out FILE]`. Standard protocol (train / "
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
            table(cells), "",
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
                     f"(`python -m benchmarks.txl_attention --dataset {att['dataset']}`, "
                     f"{att['fit_summary']['epochs']} epochs): " + "; ".join(
                         f"layer {a['layer']}: {a['memory_share']:.3f} of the attention on "
                         f"memory tokens (spread evenly: {a['uniform_memory_share']:.3f}), mean "
                         f"largest weight {a['max_weight_mean']:.3f} (evenly: "
                         f"{a['uniform_max_weight']:.3f})" for a in att["layers"]) + ".")
        lines.append("")
    from benchmarks.ridge_padding import section_lines as ridge_lines
    from benchmarks.txl_memory_probe import section_lines

    return lines + section_lines(results) + ridge_lines(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ETTh1,ETTh2")
    parser.add_argument("--horizons", default="96")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--table", action="store_true",
                        help="only print the table and rebuild docs/benchmarks.md")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    args = parser.parse_args()
    if args.out is not None:
        global OUT
        OUT = args.out
    if not args.table:
        torch.set_num_threads(1)
        run(args.datasets.split(","), [int(h) for h in args.horizons.split(",")],
            args.variants.split(","), args.seeds)
    print(table(_load()["cells"]))
    if OUT.parent == RESULTS:
        report.main([])  # docs/benchmarks.md


if __name__ == "__main__":
    main()
