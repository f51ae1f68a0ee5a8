"""Training windows per second of a small global TXL fit: one process against two (Lightning
DDP on CPU over gloo, ``strategy="ddp_fork"``).

A long frame of `--series` random walks (hourly, `--rows` rows each) is fitted by one
`TXLForecaster` with `--epochs` epochs (no early stop). A callback times every training batch
on every rank; throughput is the windows all ranks trained on divided by the slowest rank's
summed batch time (validation, the ridge start and process start-up excluded). The whole
`fit` wall time is recorded beside it.

On a machine of 2 shared cores two processes cannot be expected to scale: each step also
waits for the gradient all-reduce, and other jobs share the cores.

    python -m benchmarks.ddp_throughput [--series 8] [--rows 720] [--epochs 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lightning.pytorch.callbacks import Callback

from benchmarks.common import RESULTS, machine, write_json
from txl_ts import TXLForecaster


class BatchTimes(Callback):
    """Per rank, into `folder`: each training batch's windows and seconds."""

    def __init__(self, folder: str):
        self.folder = folder
        self.batches: list[tuple[int, float]] = []
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches.append((int(batch.shape[0]), time.perf_counter() - self._start))

    def on_train_end(self, trainer, pl_module):
        Path(self.folder, f"rank{trainer.global_rank}.json").write_text(json.dumps(self.batches))


def long_frame(n_series: int, n_rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2020-01-01", periods=n_rows, freq="h")
    return pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": ds,
                                    "y": rng.standard_normal(n_rows).cumsum()})
                      for i in range(n_series)], ignore_index=True)


def one_fit(df: pd.DataFrame, devices: int, epochs: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        kwargs = {"accelerator": "cpu", "enable_progress_bar": False,
                  "callbacks": [BatchTimes(folder)]}
        if devices > 1:
            kwargs.update(devices=devices, strategy="ddp_fork")
        m = TXLForecaster(horizon=24, id_col="unique_id", time_col="ds", targets=["y"],
                          d_model=32, n_layers=2, n_heads=4, max_epochs=epochs,
                          patience=epochs, random_state=0, trainer_kwargs=kwargs)
        started = time.perf_counter()
        m.fit(df)
        wall = time.perf_counter() - started
        ranks = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("rank*.json"))]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    windows = sum(n for rank in ranks for n, _ in rank)
    seconds = max(sum(s for _, s in rank) for rank in ranks)
    return {"devices": devices, "windows": windows, "train_seconds": seconds,
            "windows_per_second": windows / seconds, "fit_wall_seconds": wall,
            "best_val_loss": m.fit_summary_["best_val_loss"],
            # lifetime maxima (Linux ru_maxrss): the calling process, and the largest forked
            # rank so far; run 1 process first to read the 1-process peak
            "peak_rss_mb_process": peak, "peak_rss_mb_largest_child": child}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=8)
    parser.add_argument("--rows", type=int, default=720)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="ddp_throughput",
                        help="report name (e.g. ddp_throughput_1000 for a larger panel)")
    args = parser.parse_args()
    df = long_frame(args.series, args.rows)
    runs = []
    for _ in range(args.rounds):  # interleaved, so that load on the machine hits both
        for devices in (1, 2):
            runs.append(one_fit(df, devices, args.epochs))
            print(json.dumps(runs[-1]), flush=True)
    summary = {str(d): {"windows_per_second_median": statistics.median(
                            r["windows_per_second"] for r in runs if r["devices"] == d),
                        "fit_wall_seconds_median": statistics.median(
                            r["fit_wall_seconds"] for r in runs if r["devices"] == d)}
               for d in (1, 2)}
    payload = {"machine": machine(), "series": args.series, "rows": args.rows,
               "epochs": args.epochs, "strategy": "ddp_fork", "runs": runs,
               "summary": summary,
               "speedup_2_over_1": summary["2"]["windows_per_second_median"]
               / summary["1"]["windows_per_second_median"]}
    path = write_json(args.out, args.name, payload)
    print(json.dumps(summary), f"-> {path}")


if __name__ == "__main__":
    main()
