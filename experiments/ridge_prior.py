"""The linear path's warm-start prior, cell by cell: the validation MSE of the best ridge
fit towards the seasonal naive and towards repeat-last (no seed enters), and which one
`fit_linear_path` keeps (repeat-last only when more than 1% lower).

    python -m experiments.ridge_prior [--out benchmarks/results/ridge_prior.json]

The warm start is fitted before the network trains, and `fit_summary_` reports it; so each
cell trains the network for a single batch only, which the numbers do not depend on.

The cells are the standard protocol's hourly cells (ETTh1, ETTh2, WTH at 24-720 steps),
and, when `--unseen-dir` / `--low-frequency-dir` name the CSVs that `benchmarks.unseen_data`
and `benchmarks.low_frequency` write, their cells. docs/benchmarks.md section 7 renders it
(`python -m benchmarks.report`).
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


# the warm start is all this reads: one epoch of one batch is the least training `fit` runs
ONE_BATCH = {"max_epochs": 1, "trainer_kwargs": {"enable_progress_bar": False,
                                                 "limit_train_batches": 1}}


def prior_cell(dataset: str, horizon: int, features: str) -> dict:
    from txl_ts.benchmark import dataset_label, load_protocol, make_model

    df, split = load_protocol(dataset, features)
    model = make_model("txl", horizon, 0, txl_params=ONE_BATCH)
    model.fit(df.iloc[: split.train_end],
              validation_data=df.iloc[split.train_end : split.test_start])
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


if __name__ == "__main__":
    print(main())
