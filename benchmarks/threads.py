"""Torch threads on a busy machine: the library's choice against torch's default count.

One small default fit + predict (TXLForecaster and DLinearForecaster with their default
parameters except `max_epochs`, on a synthetic hourly frame) is timed twice per round in this
process, side by side:

- library: the library's own choice (`txl_ts.threads`: one intra-op thread per process);
- torch_default: torch's default count (`TXL_TS_NUM_THREADS=0` makes the library leave it).

Meanwhile `--busy` background processes spin in a busy loop, as other users' jobs do on a
shared machine. The ratio is torch_default / library, the median over interleaved rounds.

    python -m benchmarks.threads [--busy 1] [--rounds 3] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path

import torch

from benchmarks.common import RESULTS, machine, synthetic_frame
from txl_ts import threads
from txl_ts.baselines import DLinearForecaster
from txl_ts.forecaster import TXLForecaster


def _spin() -> None:  # pragma: no cover - runs in the background process
    while True:
        pass


def _fit_predict(model_name: str, df) -> float:
    quiet = {"trainer_kwargs": {"enable_progress_bar": False}}
    model = (TXLForecaster(horizon=24, max_epochs=2, **quiet) if model_name == "txl"
             else DLinearForecaster(horizon=24, max_epochs=2, **quiet))
    began = time.perf_counter()
    model.fit(df)
    model.predict()
    return time.perf_counter() - began


def _run(model_name: str, df, mode: str) -> tuple[float, int]:
    """Seconds of one fit + predict under `mode`, and the thread count it ran with."""
    torch.set_num_threads(threads.TORCH_DEFAULT_THREADS)
    if mode == "torch_default":
        os.environ[threads.ENV_VAR] = "0"  # the library leaves torch's count alone
    else:
        os.environ.pop(threads.ENV_VAR, None)
    try:
        used = threads.chosen_threads() or torch.get_num_threads()
        return _fit_predict(model_name, df), used
    finally:
        os.environ.pop(threads.ENV_VAR, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--busy", type=int, default=1, help="background busy-loop processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for name in threads.STANDARD_ENV_VARS:
        if os.environ.get(name):
            parser.exit(2, f"unset {name}: it fixes torch's count for both variants\n")

    df = synthetic_frame(args.rows, 3)
    _run("dlinear", df, "library")  # warm-up: imports, first-call allocations
    spinners = [mp.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    times: dict[str, dict[str, list[float]]] = {}
    used: dict[str, int] = {}
    try:
        for _ in range(args.rounds):
            for model_name in ("txl", "dlinear"):
                for mode in ("library", "torch_default"):
                    seconds, n = _run(model_name, df, mode)
                    times.setdefault(model_name, {}).setdefault(mode, []).append(seconds)
                    used[mode] = n
    finally:
        for p in spinners:
            p.terminate()
            p.join()

    rows = {}
    for model_name, by_mode in times.items():
        lib, default = (statistics.median(by_mode[m]) for m in ("library", "torch_default"))
        rows[model_name] = {"library_s": lib, "torch_default_s": default,
                            "ratio_torch_default_over_library": default / lib,
                            "seconds": by_mode}
        print(f"{model_name:8s} library ({used['library']} thread): {lib:7.2f} s   "
              f"torch default ({used['torch_default']} threads): {default:7.2f} s   "
              f"ratio {default / lib:5.2f}x")
    report = {"benchmark": "threads", "machine": machine(), "busy_processes": args.busy,
              "rounds": args.rounds, "rows": args.rows, "max_epochs": 2,
              "threads": {"library": used["library"], "torch_default": used["torch_default"]},
              "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "threads.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
