"""What does a trained TXL's memory contribute at prediction? Validation and test MSE of one
fitted model read three ways.

Fits the default `TXLForecaster` as the benchmark does (train split, early stopping on the
validation split), then scores every stride-1 validation and test window with the same
weights:
- "as fitted": the memory as trained (`mem_len`);
- "memory wiped": the stream run with mem_len=0, so each token sees only the earlier tokens of
  its own segment (the weights are unchanged; this is not the mem_len=0 ablation, which trains
  without memory);
- "linear path only": the residual head's output set to zero (the trained linear path alone).

If wiping the memory helps on test but hurts on validation, what the memory carries is what
validation rewards and test punishes. Results: benchmarks/results/txl_memory_probe.json, which
`python -m benchmarks.report` renders into docs/benchmarks.md section 4.

    OMP_NUM_THREADS=1 python -m experiments.txl_memory_probe --cells ETTh1-96,ETTh1-336
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from benchmarks.common import RESULTS, machine
from benchmarks.records import READINGS
from txl_ts.benchmark import dataset_label, load_protocol, make_model
from txl_ts.txl import Stream
from txl_ts.txl.memory import forecasts_at

OUT = RESULTS / "txl_memory_probe.json"


def _mse(model, scaled: np.ndarray, lo: int, hi: int, mem_len: int, residual: bool) -> float:
    """MSE (scaled units) of the forecasts from every origin whose horizon lies in [lo, hi)."""
    grid, h = model.grid_, model.horizon
    stream = Stream(model.net_, grid, model.segment_len, mem_len)
    rows = scaled[:hi]
    heads, _ = stream.feed(stream.start(rows.shape[1]), rows)  # (N, C, F)
    if not residual:
        heads = torch.zeros_like(heads)
    padded = grid.pad(torch.as_tensor(rows.T, dtype=heads.dtype))
    n_known = np.arange(lo, hi - h + 1)
    forecasts = forecasts_at(model.net_, grid, heads, padded, n_known).numpy()  # (n, C, H)
    targets = np.lib.stride_tricks.sliding_window_view(rows[lo:], h, axis=0)  # (n, C, H)
    return float(((forecasts - targets[: len(n_known)]) ** 2).mean())


def probe(dataset: str, horizon: int, seed: int) -> dict:
    df, split = load_protocol(dataset, "M")
    model = make_model("txl", horizon, seed)
    model.fit(df.iloc[: split.train_end],
              validation_data=df.iloc[split.train_end : split.test_start])
    scaled = model.scaler_.transform(df.to_numpy())
    cell = {"dataset": dataset_label(dataset), "horizon": horizon, "seed": seed,
            "machine": machine(),
            "fit_summary": model.fit_summary_}
    for name, mem, residual in zip(READINGS, (model.mem_len, 0, model.mem_len),
                                   (True, True, False)):
        cell[name] = {
            "val": _mse(model, scaled, split.train_end, split.test_start, mem, residual),
            "test": _mse(model, scaled, split.test_start, split.end, mem, residual),
        }
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="ETTh1-96,ETTh1-336,ETTh1-720,WTH-720",
                        help="DATASET-HORIZON, comma-separated; a data set may be a .csv path")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report = json.loads(OUT.read_text()) if OUT.exists() else {"cells": []}
    for spec in args.cells.split(","):
        dataset, horizon = spec.rsplit("-", 1)
        cell = probe(dataset, int(horizon), args.seed)
        report["cells"] = [c for c in report["cells"] if (c["dataset"], c["horizon"], c["seed"])
                           != (cell["dataset"], int(horizon), args.seed)] + [cell]
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(json.dumps(report, indent=1))
        print(spec, {r: cell[r] for r in READINGS}, flush=True)


if __name__ == "__main__":
    main()
