"""Build docs/results.md (the scoreboard) from the JSON reports of `python -m txl_ts benchmark`.

    python examples/make_results.py results --out docs/results.md

Arguments are report files or folders (searched recursively; hidden folders such as a grid's
`.parts/` are skipped). Every number of ours in the output comes from a report; published
numbers come from the PUBLISHED table below (with their sources and caveats) and are labelled
as published. A cell with no report reads "missing": nothing is ever filled in by hand.
Capped or truncated reports (`--max-epochs`, `--rows`, window sub-sampling) and everything
under a `quick/` folder are quick runs: listed separately, never on the scoreboard.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DATASETS = ("ETTh1", "ETTh2", "WTH")
HORIZONS = (96, 192, 336, 720)
# The scoreboard's models, in display order.
OURS = {"txl": "TXL (ours)", "txl-nomem": "TXL mem_len=0 (ours, ablation)",
        "lstm": "LSTM (ours)", "dlinear": "DLinear (ours)", "arima": "ARIMA seasonal (ours)",
        "arima-nonseasonal": "ARIMA non-seasonal (ours)", "naive": "naive repeat-last (ours)",
        "snaive": "seasonal naive 24 (ours)"}
# Every cell of these must be filled; the others are shown only where they ran.
REQUIRED = ("txl", "txl-nomem", "lstm", "dlinear", "arima", "naive", "snaive")
NEURAL = ("txl", "txl-nomem", "lstm", "dlinear")

# Published multivariate ("M") MSE / MAE, from /work/shared/reference/published_results.md.
PUBLISHED: dict[str, list[tuple[str, list[tuple[float, float]], str]]] = {
    "ETTh1": [
        ("PatchTST/64 (512)", [(0.370, 0.400), (0.413, 0.429), (0.422, 0.440), (0.447, 0.468)],
         "PatchTST, ICLR 2023, Table 3; drop_last"),
        ("PatchTST/42 (336)", [(0.375, 0.399), (0.414, 0.421), (0.431, 0.436), (0.449, 0.466)],
         "PatchTST, ICLR 2023; drop_last"),
        ("DLinear (336)", [(0.375, 0.399), (0.405, 0.416), (0.439, 0.443), (0.472, 0.490)],
         "DLinear, AAAI 2023; drop_last"),
        ("iTransformer (96)", [(0.386, 0.405), (0.441, 0.436), (0.487, 0.458), (0.503, 0.491)],
         "iTransformer, ICLR 2024; all windows"),
        ("SegRNN (96)", [(0.368, 0.395), (0.408, 0.419), (0.444, 0.440), (0.446, 0.457)],
         "SegRNN README, after its drop_last fix"),
        ("DUET (searched)", [(0.352, 0.384), (0.398, 0.409), (0.414, 0.426), (0.429, 0.455)],
         "DUET, KDD 2025, TFB protocol, all windows (best known)"),
    ],
    "ETTh2": [
        ("PatchTST/64", [(0.274, 0.337), (0.341, 0.382), (0.329, 0.384), (0.379, 0.422)],
         "PatchTST Table 3; drop_last"),
        ("DLinear", [(0.289, 0.353), (0.383, 0.418), (0.448, 0.465), (0.605, 0.551)],
         "DLinear; drop_last"),
    ],
}
# Informer's WTH results are at horizons 24/48/168/336/720; only 336 and 720 overlap ours,
# and their split is uncertain (paper: 28/10/10 months; code: 70/10/20).
PUBLISHED_WTH_M = [
    ("Informer", {336: (0.702, 0.620), 720: (0.831, 0.731)},
     "Informer, AAAI 2021, final version; split uncertain"),
    ("LSTMa", {336: (1.657, 1.059), 720: (1.536, 1.109)}, "as reported in Informer"),
]
# The naive references of the shared reference file, computed on our exact protocol.
REFERENCE_NAIVE = {
    ("ETTh1", "naive"): [(1.2944, 0.7132), (1.3249, 0.7331), (1.3299, 0.7460), (1.3351, 0.7550)],
    ("ETTh1", "snaive"): [(0.5122, 0.4333), (0.5808, 0.4692), (0.6499, 0.5008), (0.6554, 0.5141)],
    ("ETTh2", "snaive"): [(0.3905, 0.3802), (0.4819, 0.4285), (0.5324, 0.4656), (0.5255, 0.4739)],
    ("WTH", "snaive"): [(0.7867, 0.5730), (0.8636, 0.6161), (0.9077, 0.6422), (0.9601, 0.6738)],
}


def report_paths(args: list[Path]) -> list[Path]:
    """The JSON files named, or found under the folders named (hidden folders skipped)."""
    paths = []
    for arg in args:
        if arg.is_dir():
            paths += sorted(p for p in arg.rglob("*.json")
                            if not any(part.startswith(".") for part in p.relative_to(arg).parts))
        else:
            paths.append(arg)
    return paths


def quick_reasons(report: dict[str, Any], path: Path) -> list[str]:
    """Why a report is a quick run (empty for a scoreboard run). Reports written before
    `capped` was recorded are judged from their max_epochs and parameters."""
    reasons = list(report.get("capped_by") or [])
    if report.get("truncated"):
        reasons.append(f"rows={report.get('rows')}")
    if "capped" not in report:
        neural = [n for n in report["models"] if n in NEURAL]
        if report.get("max_epochs") is not None and neural:
            reasons.append(f"max_epochs={report['max_epochs']}")
        for entry in report["models"].values():
            step = (entry.get("params") or {}).get("window_step") or 1
            if step > 1:
                reasons.append(f"window_step={step}")
    if "quick" in path.parts:
        reasons.append("in quick/")
    return sorted(set(reasons))


def load_all(paths: list[Path], quick: list[dict[str, Any]] | None = None,
             ) -> list[dict[str, Any]]:
    """Every successful model run of the full-budget, full-protocol "M" reports, oldest
    first. Quick runs are appended to `quick` (if given) instead."""
    runs = []
    for path in report_paths(paths):
        report = json.loads(path.read_text())
        if report.get("features") != "M" or "models" not in report:
            continue
        reasons = quick_reasons(report, path)
        if reasons:
            if quick is not None:
                quick.append({"report": report, "file": path.as_posix(), "why": reasons})
            continue
        for name, entry in report["models"].items():
            if "mean" in entry:
                runs.append({"key": (report["dataset"], int(report["horizon"]), name),
                             "report": report, "entry": entry, "file": path.as_posix()})
    return sorted(runs, key=lambda r: (r["report"]["finished_utc"], r["file"]))


def load_reports(paths: list[Path]) -> dict[tuple[str, int, str], dict[str, Any]]:
    """(dataset, horizon, model) -> the newest run (full-protocol "M" reports only)."""
    return {run["key"]: run for run in load_all(paths)}


def _cell(info: dict[str, Any] | None) -> str:
    if info is None:
        return "missing"
    m, s = info["entry"]["mean"], info["entry"]["std"]
    if s["mse"] is None:
        return f"{m['mse']:.4f} / {m['mae']:.4f}"
    return f"{m['mse']:.4f} ± {s['mse']:.4f} / {m['mae']:.4f} ± {s['mae']:.4f}"


def _epochs(entry: dict[str, Any]) -> str:
    """Epochs run per seed, how many seeds stopped early and, for models that validate their
    warm start, how many kept it because no epoch beat it ("-" for non-neural models)."""
    epochs, early, kept, checked = [], 0, 0, 0
    for run in entry["runs"]:
        summary = run.get("fit_summary") or {}
        n = run.get("epochs", summary.get("epochs"))
        if n is not None:
            epochs.append(str(n))
            early += bool(run.get("stopped_early", summary.get("stopped_early")))
        if "kept_start" in summary:
            checked += 1
            kept += bool(summary["kept_start"])
    if not epochs:
        return "-"
    text = f"{','.join(epochs)} (early stop {early}/{len(epochs)})"
    if kept:
        text += f", warm start kept {kept}/{checked}"
    return text


def _machine(report: dict[str, Any]) -> str:
    machine = report["machine"]
    return machine.get("gpu") or f"{machine['cpu']} CPU ({machine['cores']} cores)"


def _score_cell(info: dict[str, Any] | None) -> str:
    if info is None:
        return "missing"
    epochs = _epochs(info["entry"])
    return _cell(info) + ("" if epochs == "-" else f"<br>epochs {epochs}")


PEER_DIR = Path(__file__).parents[1] / "benchmarks" / "results" / "peer"


def peer_reports(folder: Path = PEER_DIR) -> dict[tuple[str, int], dict[str, Any]]:
    """(dataset, horizon) -> the PatchTST peer's report (`benchmarks.patchtst_peer`), "M"."""
    out = {}
    for path in sorted(folder.glob("*_M_*_patchtst-nf.json")) if folder.is_dir() else []:
        report = json.loads(path.read_text())
        out[(report["dataset"], int(report["horizon"]))] = report
    return out


def peer_row(dataset: str, peers: dict[tuple[str, int], dict[str, Any]]) -> list[str]:
    """The scoreboard's row for the PatchTST peer, where it ran."""
    reports = [peers.get((dataset, h)) for h in HORIZONS]
    if not any(reports):
        return []
    cells = []
    for report in reports:
        if report is None:
            cells.append("-")
            continue
        entry = report["models"]["patchtst-nf"]
        steps = ",".join(str(r["steps"]) for r in entry["runs"])
        info = {"entry": entry}
        cells.append(f"{_cell(info)}<br>steps {steps}")
    machine = sorted({_machine(r) for r in reports if r is not None})
    return ["| PatchTST peer (NeuralForecast at its defaults, run "
            "here by `benchmarks.patchtst_peer`) | " + " | ".join(cells)
            + f" | {'; '.join(machine)} | this repo, every window |"]


def scoreboard(rows, dataset: str) -> list[str]:
    lines = [f"### {dataset}, multivariate (\"M\"): MSE / MAE on train-scaled values", "",
             "| model | " + " | ".join(str(h) for h in HORIZONS) + " | machine | source |",
             "|---|" + "---|" * len(HORIZONS) + "---|---|"]
    for name, label in OURS.items():
        infos = [rows.get((dataset, h, name)) for h in HORIZONS]
        if name not in REQUIRED and all(i is None for i in infos):
            continue
        machines = sorted({_machine(i["report"]) for i in infos if i is not None})
        lines.append(f"| {label} | " + " | ".join(_score_cell(i) for i in infos)
                     + f" | {'; '.join(machines) or '-'} | this repo, every window |")
    lines += peer_row(dataset, peer_reports())
    for label, values, source in PUBLISHED.get(dataset, []):
        cells = [f"{mse:.3f} / {mae:.3f}" for mse, mae in values]
        lines.append(f"| *published:* {label} | " + " | ".join(cells) + f" | - | {source} |")
    if dataset == "WTH":
        for label, values, source in PUBLISHED_WTH_M:
            cells = [f"{values[h][0]:.3f} / {values[h][1]:.3f}" if h in values else "-"
                     for h in HORIZONS]
            lines.append(f"| *published:* {label} | " + " | ".join(cells)
                         + f" | - | {source} |")
    return lines + [""]


def _coverage(info: dict[str, Any] | None) -> str:
    """Empirical coverage (%) of the conformal 80% / 95% intervals, if the report has it."""
    m = {} if info is None else info["entry"]["mean"]
    if m.get("coverage_80") is None:
        return "missing" if info is None else "-"
    return f"{100 * m['coverage_80']:.1f} / {100 * m['coverage_95']:.1f}"


def coverage_table(rows, dataset: str) -> list[str]:
    lines = [f"### {dataset}: test coverage (%) of the 80% / 95% conformal intervals", "",
             "| model | " + " | ".join(str(h) for h in HORIZONS) + " |",
             "|---|" + "---|" * len(HORIZONS)]
    for name, label in OURS.items():
        cells = [_coverage(rows.get((dataset, h, name))) for h in HORIZONS]
        if all(c in ("missing", "-") for c in cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines + [""] if len(lines) > 4 else []


def run_table(runs: list[dict[str, Any]], rows) -> list[str]:
    """Every run; a run that a newer one of the same data set, horizon and model superseded
    is marked as such (the scoreboard shows the newest)."""
    lines = ["| data | H | model | seeds | windows | MSE / MAE | sMAPE % | MASE (lag 24) | "
             "cover 80 / 95 % | epochs run | fit s | predict s | run s | machine | load 1m | "
             "commit | finished (UTC) | report |",
             "|" + "---|" * 18]
    for info in sorted(runs, key=lambda r: r["key"]):
        dataset, horizon, name = info["key"]
        if rows[info["key"]] is not info:
            name += " (superseded)"
        r, e = info["report"], info["entry"]
        m = e["mean"]
        machine = r["machine"]
        where = f"{machine['cpu']}, {machine['cores']} cores" + (
            f", {machine['gpu']}" if machine.get("gpu") else ", no GPU")
        seeds = ",".join(str(s) for s in e["seeds"]) if e["seeds"] != [None] else "-"
        lines.append(
            f"| {dataset} | {horizon} | {name} | {seeds} | {r['n_windows']} | {_cell(info)} | "
            f"{m['smape']:.2f} | {m['mase']:.3f} | {_coverage(info)} | {_epochs(e)} | "
            f"{m['fit_seconds']:.1f} | {m['predict_seconds']:.2f} | "
            f"{r['runtime_seconds']:.0f} | {where} | {machine.get('load_average_1m', 0):.1f} | "
            f"{(machine.get('git_commit') or '?')[:7]}"
            f"{'+uncommitted' if machine.get('uncommitted_changes') else ''} | "
            f"{r['finished_utc'][:16]} | "
            f"{info['file']} |"
        )
    return lines + [""]


def tally(rows) -> list[str]:
    """How often TXL's MSE beats each other entry, over the cells where both exist."""
    counts: dict[str, list[int]] = {}
    for (dataset, h, name), info in rows.items():
        if name != "txl":
            continue
        t = info["entry"]["mean"]["mse"]
        others = {OURS[m]: rows[(dataset, h, m)]["entry"]["mean"]["mse"]
                  for m in OURS if m != "txl" and (dataset, h, m) in rows}
        k = HORIZONS.index(h)
        others.update({f"published {label}": values[k][0]
                       for label, values, _ in PUBLISHED.get(dataset, [])})
        if dataset == "WTH":
            others.update({f"published {label} (WTH, split uncertain)": values[h][0]
                           for label, values, _ in PUBLISHED_WTH_M if h in values})
        for label, o in others.items():
            c = counts.setdefault(label, [0, 0])
            c[0] += t < o
            c[1] += 1
    return [f"- TXL has the lower MSE than {label} in {w} of {n} cells"
            for label, (w, n) in counts.items()]


def _val_loss(entry: dict[str, Any]) -> float | None:
    losses = [(run.get("fit_summary") or {}).get("best_val_loss") for run in entry["runs"]]
    losses = [v for v in losses if v is not None]
    return sum(losses) / len(losses) if losses else None


def memory_table(rows) -> list[str]:
    """TXL against its mem_len=0 ablation per cell: test MSE and best validation MSE (the
    split decisions are made on), as relative changes; negative means memory helps."""
    lines = ["| cell | test MSE: TXL / mem_len=0 | change | validation MSE: TXL / mem_len=0 "
             "| change |", "|---|---|---|---|---|"]
    test_changes, val_changes = [], []
    for dataset in DATASETS:
        for h in HORIZONS:
            a, b = rows.get((dataset, h, "txl")), rows.get((dataset, h, "txl-nomem"))
            if a is None or b is None:
                continue
            ta, tb = a["entry"]["mean"]["mse"], b["entry"]["mean"]["mse"]
            va, vb = _val_loss(a["entry"]), _val_loss(b["entry"])
            test_changes.append(ta / tb - 1)
            val = "-"
            if va is not None and vb is not None:
                val_changes.append(va / vb - 1)
                val = f"{va:.4f} / {vb:.4f} | {100 * (va / vb - 1):+.1f}%"
            else:
                val += " | -"
            lines.append(f"| {dataset}-{h} | {ta:.4f} / {tb:.4f} | "
                         f"{100 * (ta / tb - 1):+.1f}% | {val} |")
    if not test_changes:
        return []
    mean_test = 100 * sum(test_changes) / len(test_changes)
    text = (f"Mean change over {len(test_changes)} cells: test {mean_test:+.1f}%, worst cell "
            f"{100 * max(test_changes):+.1f}%")
    if val_changes:
        text += (f"; validation {100 * sum(val_changes) / len(val_changes):+.1f}%, worst cell "
                 f"{100 * max(val_changes):+.1f}%")
    return lines + ["", text + "."]


def library_best(rows) -> list[str]:
    """Cells where TXL has the lowest test MSE among the library's other models (the
    mem_len=0 ablation is TXL itself and is left out)."""
    others = [m for m in REQUIRED if m not in ("txl", "txl-nomem")]
    won, total, lost, close = 0, 0, [], []
    for dataset in DATASETS:
        for h in HORIZONS:
            if (dataset, h, "txl") not in rows:
                continue
            t = rows[(dataset, h, "txl")]["entry"]["mean"]["mse"]
            scores = {m: rows[(dataset, h, m)]["entry"]["mean"]["mse"]
                      for m in others if (dataset, h, m) in rows}
            total += 1
            best = min(scores, key=scores.get) if scores else None
            if best is None or t < scores[best]:
                won += 1
            else:
                lost.append(f"{dataset}-{h} ({OURS[best]} {scores[best]:.4f} against "
                            f"{t:.4f})")
            if best is not None:
                # a margin inside the seeds' spread is a tie, whichever side it falls on
                spread = max(_mse_std(rows[(dataset, h, "txl")]),
                             _mse_std(rows[(dataset, h, best)]))
                if abs(scores[best] - t) < spread:
                    close.append(f"{dataset}-{h} (TXL {t:.5f}, {OURS[best]} "
                                 f"{scores[best]:.5f}, seed std up to {spread:.4f})")
    if not total:
        return []
    return [f"TXL has the lowest test MSE among the library's models ("
            f"{', '.join(OURS[m] for m in others)}) in {won} of {total} cells"
            + (f"; it loses {'; '.join(lost)}." if lost else ".")
            + (f" In {len(close)} of these cells the margin to the best other model is "
               f"smaller than one seed standard deviation, so the order there is not "
               f"settled: {'; '.join(close)}." if close else "")]


def _mse_std(row: dict[str, Any]) -> float:
    return float((row["entry"].get("std") or {}).get("mse") or 0.0)


def comparisons(rows) -> list[str]:
    out = []
    for dataset in DATASETS:
        for h in HORIZONS:
            txl = rows.get((dataset, h, "txl"))
            if txl is None:
                continue
            t = txl["entry"]["mean"]["mse"]
            wins, losses = [], []
            for name in OURS:
                other = rows.get((dataset, h, name))
                if name == "txl" or other is None:
                    continue
                o = other["entry"]["mean"]["mse"]
                (wins if t < o else losses).append(f"{OURS[name]} {o:.4f}")
            k = HORIZONS.index(h)
            for label, values, _ in PUBLISHED.get(dataset, []):
                (wins if t < values[k][0] else losses).append(
                    f"published {label} {values[k][0]:.3f}")
            if dataset == "WTH":
                for label, values, _ in PUBLISHED_WTH_M:
                    if h in values:
                        (wins if t < values[h][0] else losses).append(
                            f"published {label} {values[h][0]:.3f} (split uncertain)")
            out.append(f"- {dataset} H={h}: TXL MSE {t:.4f}. Better than: "
                       f"{'; '.join(wins) or 'nothing'}. Worse than: "
                       f"{'; '.join(losses) or 'nothing'}.")
    return out or ["- no TXL run yet"]


def oracle_check(rows) -> list[str]:
    out = []
    for (dataset, name), refs in REFERENCE_NAIVE.items():
        for h, (mse, mae) in zip(HORIZONS, refs, strict=True):
            info = rows.get((dataset, h, name))
            if info is None:
                continue
            m = info["entry"]["mean"]
            ok = abs(m["mse"] - mse) < 5e-5 and abs(m["mae"] - mae) < 5e-5
            out.append(f"{dataset}/{name}/{h}: {'matches' if ok else 'DIFFERS'}")
    return out


def missing(rows) -> list[str]:
    return [f"- {d} H={h} {OURS[m]}" for d in DATASETS for h in HORIZONS for m in REQUIRED
            if (d, h, m) not in rows]


def quick_table(quick: list[dict[str, Any]]) -> list[str]:
    """The quick runs, one line per report: not comparable with the scoreboard."""
    if not quick:
        return ["- none"]
    lines = ["| report | data | H | models (MSE) | why quick | epochs run | machine |",
             "|---|---|---|---|---|---|---|"]
    for q in sorted(quick, key=lambda q: q["file"]):
        r = q["report"]
        models = ", ".join(f"{n} {e['mean']['mse']:.4f}" if "mean" in e else f"{n} failed"
                           for n, e in r["models"].items())
        epochs = "; ".join(f"{n} {_epochs(e)}" for n, e in r["models"].items()
                           if "mean" in e and _epochs(e) != "-") or "-"
        lines.append(f"| {q['file']} | {r['dataset']} | {r['horizon']} | {models} | "
                     f"{', '.join(q['why'])} | {epochs} | {_machine(r)} |")
    return lines


def render(runs: list[dict[str, Any]], quick: list[dict[str, Any]] | None = None) -> str:
    rows = {run["key"]: run for run in runs}
    lines = [
        "# RESULTS: the txl_ts scoreboard",
        "",
        "Generated by `python examples/make_results.py results --out docs/results.md` from the "
        "JSON reports under `results/`; do not edit by hand. Each report records the exact "
        "command (`argv`), the machine, the load average, the git commit (and which files "
        "had uncommitted changes when it ran) and timings. The grid that fills the scoreboard is "
        "`python -m txl_ts benchmark --dataset ETTh1,ETTh2,WTH --horizon 96,192,336,720 "
        "--models txl,txl-nomem,lstm,dlinear,arima,naive,snaive --seeds 3 --jobs N "
        "--out-dir results/grid`.",
        "",
        "**Protocol (ours).** ETTh1/ETTh2: train rows 0..8639, validation 8640..11519, test "
        "11520..14399; WTH: 70/10/20 in time order (Time-Series-Library convention). Models "
        "are fitted on train, with validation only for early stopping; StandardScaler fitted "
        "on train only; MSE / MAE on scaled values over all columns, all horizon steps and "
        "**every** stride-1 test window (ETTh: 2,785 / 2,689 / 2,545 / 2,161 windows; WTH: "
        "6,917 / 6,821 / 6,677 / 6,293). Neural models: mean ± sample std over seeds when "
        "more than one seed ran.",
        "",
        "**Fair budgets.** Scoreboard rows are full-budget runs only: every neural model at "
        "its defaults, trained to early-stopping convergence (no `--max-epochs` cap, no "
        "window sub-sampling, no `--rows` truncation). Each cell shows the epochs run per "
        "seed and how many seeds early stopping ended; the machine column names the CPU or "
        "GPU. Capped or truncated runs are listed under \"Quick runs\" and are not "
        "comparable with the scoreboard or with each other.",
        "",
        "**Published numbers** are labelled *published*; they are not our runs. Caveat: "
        "many papers' test loaders dropped the last incomplete batch (drop_last=True), which "
        "removes up to ~100 windows from the end of the test split and usually flatters MSE "
        "by 0.01-0.04; look-back windows differ per paper (in brackets). Our protocol scores "
        "every window. WTH's published Informer results use an uncertain split.",
        "",
        "## Scoreboard",
        "",
    ]
    if not runs:
        lines += ["**No full-budget run yet: every cell of ours is missing.** Capped or "
                  "truncated runs are listed under \"Quick runs\" below; they are not a "
                  "scoreboard.", ""]
    for dataset in DATASETS:
        lines += scoreboard(rows, dataset)
    coverage = [line for d in DATASETS for line in coverage_table(rows, d)]
    if coverage:
        lines += ["## Prediction intervals", "",
                  "Share of test values inside each model's conformal intervals (calibrated "
                  "on the validation split's residuals); 80 and 95 are the nominal levels.",
                  ""] + coverage
    lines += ["## Where TXL wins and loses (MSE, same data set and horizon)", "",
              "Counted mechanically from the cells above. A cell with one seed cannot tell a "
              "small difference (e.g. TXL vs its mem_len=0 ablation) from seed noise: compare "
              "against the ± spread where several seeds ran. Published numbers differ in "
              "protocol details (see the caveats above).", ""]
    lines += library_best(rows) + [""] + tally(rows) + [""] + comparisons(rows) + [""]
    memory = memory_table(rows)
    if memory:
        lines += ["## Does the memory earn its keep? (TXL against mem_len=0)", "",
                  "Mean over seeds. Test MSE is what the scoreboard shows; the best validation "
                  "MSE (every validation window, the split that early stopping and every "
                  "design decision use) is from each run's fit summary.", ""] + memory + [""]
    lines += ["## Naive oracle check", "",
              "Our naive rows against the reference values computed on this protocol "
              "(tolerance 5e-5): " + ("; ".join(oracle_check(rows)) or "no naive rows") + ".",
              ""]
    lines += ["## Runs (machine and runtime of each row)", ""]
    lines += run_table(runs, rows) if runs else ["- none", ""]
    lines += ["## Missing cells (not run at full budget: no report, so no number)", ""]
    lines += missing(rows) or ["- none"]
    lines += ["", "## Quick runs (capped or truncated: not comparable, not on the scoreboard)",
              "", "Reports under `results/quick/` or with a capped budget. Their `arima` is "
              "whatever ARIMA default the report's commit had (non-seasonal before the "
              "seasonal default).", ""] + quick_table(quick or [])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path, default=[Path("results")],
                        help="report files or folders (default: results)")
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    args = parser.parse_args(argv)
    quick: list[dict[str, Any]] = []
    runs = load_all(args.reports, quick)
    args.out.write_text(render(runs, quick))
    print(f"wrote {args.out}: {len(runs)} scoreboard runs, {len(quick)} quick reports")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
