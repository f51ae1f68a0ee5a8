"""Training throughput and forecast latency of the default `TXLForecaster` on ETTh1.

Training: samples per second over the first batches of one epoch on the ETTh1 training split
(the first 12 months), timed per batch by a Lightning callback; the first batch is a warm-up.
A sample is one window of `n_segments * segment_len` tokens over all 7 channels.
Forecasting, with the model's state at the end of the data: `predict()` from the state,
`update(one row)` + `predict()` (mean and worst over `stride` consecutive rows), and
`predict(history=...)` re-encoding all of ETTh1. Medians over repeats.

    python -m benchmarks.throughput [--smoke] [--out DIR] [--device cuda [--bf16]]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from benchmarks.common import RESULTS, machine, median, set_threads, timed, write_json

DEFAULT_ARCH = "the default TXLForecaster architecture"
NAME = "throughput"
TRAIN_ROWS = 12 * 30 * 24  # the usual ETTh1 split: 12 months train, 4 validation, 4 test


class BatchTimer(Callback):
    """Wall time and size of every training batch (device work included)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.sizes: list[int] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch.is_cuda:
            torch.cuda.synchronize()
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch.is_cuda:
            torch.cuda.synchronize()
        self.seconds.append(time.perf_counter() - self._start)
        self.sizes.append(int(batch.shape[0]))


def run(smoke: bool, device: str, bf16: bool, batches: int, repeats: int) -> dict:
    from txl_ts import TXLForecaster, datasets

    df = datasets.load("ETTh1")
    train_rows = TRAIN_ROWS
    if smoke:
        df, train_rows = df.iloc[:900], 600
    timer = BatchTimer()
    trainer_kwargs = {"enable_progress_bar": False, "limit_train_batches": batches,
                      "callbacks": [timer]}
    accelerator = "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device is available on this machine")
        accelerator = "gpu"
        trainer_kwargs["precision"] = "bf16-mixed" if bf16 else "32-true"
    tiny = dict(horizon=8, patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                segment_len=4, mem_len=8, n_segments=2)
    model = TXLForecaster(**(tiny if smoke else {}), max_epochs=1, val_size=0,
                          accelerator=accelerator, trainer_kwargs=trainer_kwargs)
    model.fit(df.iloc[:train_rows])
    steady = list(zip(timer.seconds[1:], timer.sizes[1:], strict=True)) or list(
        zip(timer.seconds, timer.sizes, strict=True))
    per_batch = [n / s for s, n in steady]
    training = {
        "samples_per_s": median(per_batch),
        "samples_per_s_all": per_batch,
        "batch_s": median([s for s, _ in steady]),
        "batch_size": model.batch_size,
        "batches_timed": len(steady),
        "tokens_per_sample_per_channel": model.n_segments * model.segment_len,
        "n_channels": df.shape[1],
        "precision": trainer_kwargs.get("precision", "32-true"),
    }
    print(f"training: {training['samples_per_s']:.1f} samples/s "
          f"({training['batch_s']:.3f} s per batch of {model.batch_size})")

    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" and bf16
                else contextlib.nullcontext())
    stride = model.stride_
    end = len(df) - stride
    with autocast:
        model.update(df.iloc[train_rows:end])
        state = model.get_state()
        new_rows = [df.iloc[end + j : end + j + 1] for j in range(stride)]
        full = df.iloc[:end]
        predict, reencode, step_mean, step_worst = [], [], [], []
        for _ in range(repeats):
            model.set_state(state)
            predict.append(timed(model.predict, device)[0])
            steps = [timed(lambda r=r: (model.update(r), model.predict()), device)[0]
                     for r in new_rows]
            step_mean.append(float(np.mean(steps)))
            step_worst.append(max(steps))
            reencode.append(timed(lambda: model.predict(history=full), device)[0])
        model.set_state(state)
    forecasting = {
        "history_rows": end,
        "predict_s": median(predict),
        "update_predict_mean_s": median(step_mean),
        "update_predict_worst_s": median(step_worst),
        "reencode_s": median(reencode),
        "ratio_reencode_over_update_predict": median(
            [r / s for r, s in zip(reencode, step_mean, strict=True)]),
        "repeats": repeats,
    }
    print(f"forecast after {end} rows: predict {forecasting['predict_s'] * 1e3:.2f} ms, "
          f"update+predict {forecasting['update_predict_mean_s'] * 1e3:.2f} ms, "
          f"re-encode {forecasting['reencode_s'] * 1e3:.1f} ms")
    params = {k: v for k, v in model.get_params().items() if k != "trainer_kwargs"}
    return {
        "benchmark": NAME,
        "smoke": smoke,
        "device": device,
        "bf16": bf16,
        "machine": machine(),
        "config": {"architecture": "tiny smoke model" if smoke else DEFAULT_ARCH,
                   "model": params, "data": "ETTh1", "train_rows": train_rows,
                   "limit_train_batches": batches},
        "training": training,
        "forecasting": forecasting,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, 900 rows (seconds)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (cuda only)")
    parser.add_argument("--batches", type=int, default=None, help="training batches to time")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.bf16 and args.device != "cuda":
        parser.error("--bf16 needs --device cuda")
    set_threads(args.threads)
    batches = args.batches or (3 if args.smoke else 21)
    repeats = args.repeats or (2 if args.smoke else 7)
    payload = run(args.smoke, args.device, args.bf16, batches, repeats)
    name = NAME if args.device == "cpu" else f"{NAME}_{args.device}{'_bf16' if args.bf16 else ''}"
    write_json(args.out, name, payload)
    return payload


if __name__ == "__main__":
    main()
