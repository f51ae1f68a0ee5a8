"""The linear path's warm-start prior, cell by cell: the validation MSE of the best ridge
fit towards the seasonal naive and towards repeat-last (the network untrained; no seed
enters), and which one `fit_linear_path` keeps (repeat-last only when more than 1% lower).

    python -m benchmarks.ridge_prior [--out benchmarks/results/ridge_prior.json]

The cells are the standard protocol's hourly cells (ETTh1, ETTh2, WTH at 24-720 steps),
and, when `--unseen-dir` / `--low-frequency-dir` name the CSVs that `benchmarks.unseen_data`
and `benchmarks.low_frequency` write, their cells. docs/benchmarks.md section 7 renders it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import RESULTS, machine, set_threads

OUT = RESULTS / "ridge_prior.json"
HOURLY = [(name, h, "M") for name in ("ETTh1", "ETTh2", "WTH")
          for h in (24, 48, 96, 192, 336, 720)]
UNSEEN = [("taylor", 48, "M"), ("taylor", 336, "M")] + [
    (site, h, f) for site in ("tmy_greensboro", "tmy_sandpoint") for f in ("M", "S")
    for h in (24, 96)]


def prior_cell(dataset: str, horizon: int, features: str) -> dict:
    from benchmarks.txl_ablation import _untrained
    from txl_ts.benchmark import dataset_label, load_protocol, make_model

    df, split = load_protocol(dataset, features)
    model = make_model("txl", horizon, 0)
    with _untrained():
        model.fit(df.iloc[: split.train_end], validation_data=df.iloc[split.train_end:
                                                                    split.test_start])
    summary = model.fit_summary_
    return {"dataset": dataset_label(dataset), "features": features, "horizon": horizon,
            "val_mse": summary["linear_init_val_mse_by_prior"],
            "kept": summary["linear_init_prior"]}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--unseen-dir", type=Path, default=None)
    parser.add_argument("--low-frequency-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    set_threads(1)
    cells = list(HOURLY)
    if args.unseen_dir:
        cells += [(str(args.unseen_dir / f"{d}.csv"), h, f) for d, h, f in UNSEEN]
    if args.low_frequency_dir:
        from benchmarks.low_frequency import HORIZONS

        cells += [(str(args.low_frequency_dir / f"{stem}.csv"), h, "M")
                  for stem, hs in HORIZONS.items() for h in hs]
    rows = []
    for cell in cells:
        rows.append(prior_cell(*cell))
        print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "cells": rows}, indent=1))
    return args.out


def section(results: Path) -> list[str]:
    """A table: each cell's validation MSE under each prior and the one kept."""
    path = results / "ridge_prior.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    lines = ["### The linear path's warm-start prior", "",
             "Script: `python -m benchmarks.ridge_prior` (see its docstring; machine: "
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


if __name__ == "__main__":
    print(main())
