"""Real load and weather series that the library was never developed on, read from two PyPI
wheels, through the benchmark protocol (70/10/20 split, train-only scaling, every window).

    pip download --no-deps pmdarima==2.1.1 pvlib==0.16.1 -d wheels/
    python -m benchmarks.unseen_data --wheels wheels/ [--seeds 3] [--jobs 2]

- `taylor`: half-hourly electricity demand of England and Wales, 5 June to 27 August 2000
  (4,032 rows, one column; Taylor 2003, as in R's forecast package), from pmdarima's
  `datasets/taylor.py`.
- `tmy_greensboro`, `tmy_sandpoint`: NREL TMY3 hourly weather (8,760 rows) of Greensboro NC
  and Sand Point AK, from pvlib's `data/`: global horizontal irradiance, wind speed, pressure,
  relative humidity, dew point and dry-bulb temperature (last, so "S" is the temperature).
  A typical meteorological year stitches months of different years; the rows are labelled as
  one year from 2001-01-01 01:00 (hour ending), so there are jumps at month boundaries.
  Sand Point's pressure is constant (a real-data quirk the models must survive).

Nothing is downloaded here: the wheels are read as zip files, the series written as CSVs to
`--data-dir`, and `python -m txl_ts benchmark --dataset FILE.csv` runs them (reports in
`benchmarks/results/unseen/`; docs/benchmarks.md section 6 by `python -m benchmarks.report`).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS

OUT = RESULTS / "unseen"
MODELS = ["txl", "txl-nomem", "lstm", "dlinear", "arima", "naive", "snaive", "snaive-weekly"]
# (data set, features, horizons): a day and a week of half-hourly demand, a day and four
# days of hourly weather.
CELLS = [("taylor", "M", (48, 336)), ("tmy_greensboro", "M", (24, 96)),
         ("tmy_greensboro", "S", (24, 96)), ("tmy_sandpoint", "M", (24, 96)),
         ("tmy_sandpoint", "S", (24, 96))]
TARGET = "temp"  # the "S" cells' column (a CSV's "S" names its column: --target)
TMY3 = {"tmy_greensboro": "723170TYA.CSV", "tmy_sandpoint": "703165TY.csv"}
TMY3_COLUMNS = {"ghi": "GHI (W/m^2)", "wind": "Wspd (m/s)", "pressure": "Pressure (mbar)",
                "rh": "RHum (%)", "dewpoint": "Dew-point (C)", "temp": "Dry-bulb (C)"}


def _wheel(folder: Path, project: str) -> zipfile.ZipFile:
    found = sorted(Path(folder).glob(f"{project}-*.whl"))
    if not found:
        raise FileNotFoundError(f"no {project}-*.whl in {folder}; run: pip download --no-deps "
                                f"{project} -d {folder}")
    return zipfile.ZipFile(found[-1])


def taylor_frame(wheels: Path) -> pd.DataFrame:
    """pmdarima keeps the series as a literal array in its loader's source; read the numbers."""
    source = _wheel(wheels, "pmdarima").read("pmdarima/datasets/taylor.py").decode()
    body = source[source.index("np.array([") + len("np.array(["):source.index("]).astype")]
    values = np.array([float(v) for v in re.findall(r"\d+(?:\.\d+)?", body)])
    if len(values) != 4032:
        raise ValueError(f"expected 4032 half-hourly values in taylor.py, found {len(values)}")
    index = pd.date_range("2000-06-05", periods=len(values), freq="30min", name="date")
    return pd.DataFrame({"demand_mw": values}, index=index)


def tmy3_frame(wheels: Path, member: str) -> pd.DataFrame:
    text = _wheel(wheels, "pvlib").read(f"pvlib/data/{member}").decode()
    rows = list(csv.reader(io.StringIO(text)))
    header, data = rows[1], rows[2:]  # row 0 is the station's metadata
    cols = {name: header.index(label) for name, label in TMY3_COLUMNS.items()}
    frame = pd.DataFrame({name: [float(r[i]) for r in data] for name, i in cols.items()})
    frame.index = pd.date_range("2001-01-01 01:00", periods=len(frame), freq="h", name="date")
    return frame


def write_csvs(wheels: Path, data_dir: Path) -> dict[str, Path]:
    """Each series as `<data_dir>/<name>.csv` (a "date" column first); returns the paths."""
    data_dir.mkdir(parents=True, exist_ok=True)
    frames = {"taylor": taylor_frame(wheels)}
    frames.update({name: tmy3_frame(wheels, member) for name, member in TMY3.items()})
    paths = {}
    for name, frame in frames.items():
        paths[name] = data_dir / f"{name}.csv"
        frame.to_csv(paths[name])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("unseen_data"))
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    from txl_ts.grid import Settings, run_grid

    paths = write_csvs(args.wheels, args.data_dir)
    failed = []
    for name, features, horizons in CELLS:
        result = run_grid([str(paths[name])], list(horizons), args.models.split(","),
                          seeds=args.seeds, out_dir=args.out_dir, jobs=args.jobs,
                          settings=Settings(features=features, data=(
                              (("target", (TARGET,)),) if features == "S" else ())))
        failed += result.failed
    print(f"failed cells: {failed}" if failed else "every cell written")
    return 1 if failed else 0


# ---------------------------------------------------------------- docs/benchmarks.md section

PEER = "patchtst-nf"  # benchmarks.patchtst_peer: shown beside, never one of the library's
LABELS = {"txl": "TXL", "txl-nomem": "TXL mem_len=0", "lstm": "LSTM", "dlinear": "DLinear",
          "arima": "ARIMA (seasonal)", "naive": "repeat-last", "snaive": "seasonal naive (day)",
          "snaive-weekly": "seasonal naive (week)",
          PEER: "PatchTST peer (NeuralForecast)"}
OURS = ("txl", "txl-nomem", "txl-tuned")  # TXL and its variants: not "other" models


def _fmt(entry: dict) -> str:
    mean, std = entry["mean"]["mse"], (entry.get("std") or {}).get("mse")
    return f"{mean:.4f}" + (f" ± {std:.4f}" if std is not None else "")


def load_cells(folder: Path) -> tuple[dict[tuple, dict], list[dict]]:
    """The reports in `folder`, merged by (data set, features, horizon)."""
    import json

    reports = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    cells: dict[tuple, dict] = {}
    for rep in reports:
        key = (rep["dataset"], rep["features"], rep["horizon"])
        cell = cells.setdefault(key, {"models": {}, "report": rep})
        cell["models"].update({k: v for k, v in rep["models"].items() if v.get("runs")})
    return cells, reports


def machines(reports: list[dict]) -> str:
    return "; ".join(sorted({f"{r['machine'].get('gpu') or r['machine']['cpu']}, "
                             f"{r['machine'].get('cores')} cores, torch {r['machine'].get('torch')}"
                             for r in reports}))


def _epochs(entry: dict | None) -> str:
    runs = (entry or {}).get("runs", [])
    kept = sum(bool((r.get("fit_summary") or {}).get("kept_start")) for r in runs)
    return (",".join(str(r.get("epochs")) for r in runs)
            + (f" (warm start kept {kept}/{len(runs)})" if kept else "")) or "–"


def cell_table(cells: dict[tuple, dict], labels: dict[str, str]) -> list[str]:
    """One row per cell: every model's MSE (the lowest in bold), TXL's ratio to the best
    other library model, to the better seasonal naive and (when run) to the PatchTST peer,
    and TXL's epochs; then a summary of wins, losses and the memory's effect."""
    order = [m for m in labels if any(m in c["models"] for c in cells.values())]
    peer = PEER in order
    lines = ["| cell | windows | " + " | ".join(labels[m] for m in order)
             + " | TXL / best other | TXL / best seasonal naive | "
             + ("TXL / PatchTST peer | " if peer else "") + "TXL epochs |",
             "|---" * (len(order) + 5 + peer) + "|"]
    for (dataset, features, horizon), cell in sorted(cells.items()):
        models = cell["models"]
        mse = {m: e["mean"]["mse"] for m, e in models.items()}
        row = [f"{dataset} {features}-{horizon}", str(cell["report"].get("n_windows", "–"))]
        for m in order:
            text = _fmt(models[m]) if m in models else "–"
            row.append(f"**{text}**" if m in mse and mse[m] == min(mse.values()) else text)
        best = min((v for m, v in mse.items() if m not in (*OURS, PEER)), default=None)
        naives = [mse[m] for m in ("snaive", "snaive-weekly") if m in mse]
        txl = mse.get("txl")
        row.append(f"{txl / best:.3f}" if txl and best else "–")
        row.append(f"{txl / min(naives):.3f}" if txl and naives else "–")
        if peer:
            row.append(f"{txl / mse[PEER]:.3f}" if txl and PEER in mse else "–")
        row.append(_epochs(models.get("txl")))
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, "", *_summary(cells, labels)]


def section(results: Path) -> list[str]:
    """docs/benchmarks.md section 6: one row per cell, MSE of every model and TXL's ratios."""
    cells, reports = load_cells(results / "unseen")
    if not reports:
        return []
    peers, _ = load_cells(results / "peer")  # benchmarks.patchtst_peer's reports
    used = []
    for key, cell in peers.items():
        if key in cells and PEER in cell["models"]:
            cells[key]["models"][PEER] = cell["models"][PEER]
            used.append(cell["report"])
    lines = [
        "## 6. Real data the library was not developed on",
        "",
        "Script: `python -m benchmarks.unseen_data --wheels DIR` (the series are read from the "
        "pmdarima and pvlib wheels; see its docstring). Protocol: 70/10/20 split in time order, "
        "train-only scaling, every model at its defaults (neural ones early-stopped on the "
        "validation split), MSE on train-scaled values over every stride-1 test window; "
        "neural models mean ± std over their seeds. `taylor`: half-hourly demand of England "
        "and Wales, summer 2000; `tmy_*`: hourly TMY3 weather, \"M\" six columns, \"S\" the "
        "temperature alone. The PatchTST peer is NeuralForecast's PatchTST at its defaults "
        "(input 336, at most 1,000 steps, early stopping on the validation rows), run by "
        "`benchmarks.patchtst_peer` from a separate environment (not a dependency; reports in "
        "`benchmarks/results/peer/`), in the cells where it was run. Machine: "
        + machines(reports) + (f"; the peer's: {machines(used)}" if used else "") + ".",
        "",
    ]
    return [*lines, *cell_table(cells, LABELS), ""]


def _summary(cells: dict[tuple, dict], labels: dict[str, str]) -> list[str]:
    """Where TXL wins and loses, its memory's effect, its worst ratio to a seasonal naive and
    how it fares against the PatchTST peer."""
    wins, losses, memory, naive, peer, tuned, last = [], [], [], [], [], [], []
    for (dataset, features, horizon), cell in sorted(cells.items()):
        mse = {m: e["mean"]["mse"] for m, e in cell["models"].items()}
        if "txl" not in mse:
            continue
        name = f"{dataset} {features}-{horizon}"
        others = {m: v for m, v in mse.items() if m not in (*OURS, PEER) and m in labels}
        if not others:  # a cell still running
            continue
        best = min(others, key=others.get)
        if mse["txl"] <= others[best]:
            wins.append(name)
        else:
            losses.append(f"{name} to {labels[best]} ({others[best]:.4f} against "
                          f"{mse['txl']:.4f}, {100 * (mse['txl'] / others[best] - 1):+.1f}%)")
        if "txl-nomem" in mse:
            memory.append((name, 100 * (mse["txl"] / mse["txl-nomem"] - 1)))
        if "naive" in mse and mse["txl"] > mse["naive"]:
            last.append(f"{name} ({mse['txl'] / mse['naive']:.2f} times its MSE)")
        naives = [mse[m] for m in ("snaive", "snaive-weekly") if m in mse]
        if naives:
            naive.append((name, mse["txl"] / min(naives)))
        if PEER in mse:
            peer.append((name, 100 * (mse["txl"] / mse[PEER] - 1)))
        if "txl-tuned" in mse:
            tuned.append((name, 100 * (mse["txl-tuned"] / others[best] - 1), labels[best]))
    lines = [f"- TXL has the lowest MSE of the library's models (TXL mem_len=0 aside) in "
             f"{len(wins)} of {len(wins) + len(losses)} cells; it loses "
             + ("; ".join(losses) if losses else "none") + "."]
    if memory:
        worst = max(memory, key=lambda x: x[1])
        lines.append(f"- Memory against mem_len=0: {sum(v for _, v in memory) / len(memory):+.1f}% "
                     f"MSE on average over {len(memory)} cells, from "
                     f"{min(v for _, v in memory):+.1f}% to {worst[1]:+.1f}% ({worst[0]}).")
    if naive:
        worst = max(naive, key=lambda x: x[1])
        lines.append(f"- Against the better of the two seasonal naives TXL's MSE ratio is at "
                     f"most {worst[1]:.3f} ({worst[0]}).")
    if last:
        lines.append("- TXL is worse than repeating the last value in " + "; ".join(last) + ".")
    if peer:
        lower = [n for n, v in peer if v < 0]
        lines.append(f"- Against the PatchTST peer TXL's MSE is lower in {len(lower)} of "
                     f"{len(peer)} cells where the peer ran: "
                     + "; ".join(f"{n} {v:+.1f}%" for n, v in peer) + ".")
    if tuned:
        lower = [n for n, v, _ in tuned if v < 0]
        lines.append(f"- TXL tuned has a lower MSE than the best other library model in "
                     f"{len(lower)} of {len(tuned)} cells: "
                     + "; ".join(f"{n} {v:+.1f}% against {b}" for n, v, b in tuned) + ".")
    return lines


if __name__ == "__main__":
    sys.exit(main())
