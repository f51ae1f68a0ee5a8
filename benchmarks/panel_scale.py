"""Cost of a global model as the number of series grows: 10, 100, 1,000 series of 2,000 hours.

A synthetic hourly panel (`panel`): series i has daily and weekly cycles with its own level,
scale, phases and noise, drawn from one seeded generator, and its own start date (up to a
year apart), 2,000 rows each. One global `TXLForecaster` (defaults, `horizon=24`,
`id_col="unique_id"`, `time_col="ds"`) is fitted on the long frame with a small fixed
`max_epochs` (1 by default: this measures cost, not accuracy; the default `val_size` carves
each series' validation tail, and validation runs once before training, for the ridge warm
start, and after every epoch).

Each size runs in a FRESH subprocess, so that its peak resident memory (`ru_maxrss`: the
whole process, interpreter, torch and data included) is its own. Measured there:

- fit seconds (the whole `fit`: scalers, ridge warm start, training, the members' streaming
  states and conformal calibration) and seconds per epoch of the training loop (Lightning
  epoch, validation included), timed by a callback passed through `trainer_kwargs`;
- seconds per training step (one optimiser step on one batch: forward, truncated-BPTT
  backward and AdamW step, median over the epoch's batches, the first excluded as warm-up)
  and training windows per second (windows in the epoch over the time of its batches);
- peak RSS after the fit, and again after the prediction timings.

Prediction, in the same process as each size's fitted model, medians over `--repeats`:
`predict()` for all N series (one batched pass over every series' streaming state) against
`series_model(first id).predict()` for one series. Both forecast from the state the fit left
(same network, same weights, same per-series state, no history re-encoded), so their ratio is
the cost of N series against one with nothing else changed; `predict(history=...)` would time
re-encoding 2,000 rows instead, and a separately fitted one-series model would be another
network. Beside it the same estimator fitted on the first series alone (a one-series long
model: the same long-frame `predict()` code for one series; other weights, the same cost),
`predict(history=<one series' long frame>)` (re-encoding one history) and, with
--history-all, `predict(history=<the whole long frame>)`.

Beside these, the numbers the project issue quotes for NeuralForecast's NHITS measured on
this kind of machine (quoted as given, not re-run): predict for 1,000 series in 25x the time
of one; 0.35 s per training step with 1,000 series against 0.27 s with 3; peak 955 MB.
Optionally (--baselines) LSTM and DLinear global fits (`max_epochs=1`) at the largest size,
each in its own subprocess as well.

The machine is shared with other jobs, so absolute times are upper bounds; ratios within one
process are the robust numbers. CPU seconds (`time.process_time`, one torch thread) are
recorded beside the wall times of the fit and of each step: they do not count the time other
jobs held the cores.

`--limit-steps K` caps an epoch at K training steps (Lightning's `limit_train_batches`, through
`trainer_kwargs`): the fit still runs end to end (scalers, warm start, validation, every
series' state and calibration), s/step and windows/s are measured on the K steps, and the
full epoch's seconds are extrapolated from them (`s_per_epoch_full_estimate`). `--keep FILE`
keeps an earlier run's rows for the sizes this run does not redo (recorded in `kept_from`).

    OMP_NUM_THREADS=1 python -m benchmarks.panel_scale [--sizes 10,100,1000] [--max-epochs 1]
        [--limit-steps K] [--keep FILE] [--baselines] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS

NAME = "scale"
OUT = RESULTS / "panel" / f"{NAME}.json"
ID, TIME, VALUE = "unique_id", "ds", "y"
HORIZON = 24
LENGTH = 2000
NHITS = {  # as the project issue gives them (NeuralForecast NHITS, measured on this machine)
    "source": "project issue, quoted as given (not re-run here)",
    "predict_ratio_1000_vs_1": 25.0,
    "step_s_1000_series": 0.35,
    "step_s_3_series": 0.27,
    "peak_rss_mb": 955.0,
}
# --quick: a small network and short series; exercises every code path in seconds
QUICK_PARAMS = {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "segment_len": 4,
                "mem_len": 8, "n_segments": 2}
QUICK_LENGTH = 400
MODELS = ("txl", "lstm", "dlinear")


def panel(n_series: int, length: int = LENGTH, seed: int = 0) -> pd.DataFrame:
    """A long hourly frame of `n_series` series of `length` rows each.

    Parameters
    ----------
    n_series, length : int
        Series and rows per series.
    seed : int
        Seeds the generator of every series' level, scale, phases, noise and start date.

    Returns
    -------
    DataFrame
        Columns `unique_id` ("s0000", ...), `ds` (hourly, a start date per series) and `y`.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :]
    level = rng.uniform(-50, 200, (n_series, 1))
    scale = rng.lognormal(1.0, 1.0, (n_series, 1))
    day, week = rng.uniform(0, 2 * np.pi, (2, n_series, 1))
    weekly = rng.uniform(0.2, 1.0, (n_series, 1))  # how strong the weekly cycle is
    noise = rng.uniform(0.05, 0.5, (n_series, 1))
    values = level + scale * (np.sin(2 * np.pi * t / 24 + day)
                              + weekly * np.sin(2 * np.pi * t / 168 + week)
                              + noise * rng.standard_normal((n_series, length)))
    starts = pd.Timestamp("2020-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 24, n_series), unit="h")
    steps = pd.to_timedelta(np.arange(length), unit="h")
    stamps = (starts.to_numpy()[:, None] + steps.to_numpy()[None, :]).ravel()
    ids = np.array([f"s{i:04d}" for i in range(n_series)], dtype=object)
    return pd.DataFrame({ID: np.repeat(ids, length), TIME: stamps, VALUE: values.ravel()})


def peak_rss_mb() -> float:
    """The process's peak resident set so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timer():
    """A Lightning callback timing every training batch and epoch and each validation."""
    from lightning.pytorch.callbacks import Callback

    class Timer(Callback):
        def __init__(self) -> None:
            self.batch_s: list[float] = []
            self.batch_cpu_s: list[float] = []
            self.batch_n: list[int] = []
            self.epoch_s: list[float] = []
            self.val_s: list[float] = []

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self._epoch = time.perf_counter()
            loader = trainer.train_dataloader  # its length ignores limit_train_batches
            self.full_batches = len(loader)
            self.full_windows = len(loader.dataset)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self.epoch_s.append(time.perf_counter() - self._epoch)

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self._batch = time.perf_counter()
            self._batch_cpu = time.process_time()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.batch_s.append(time.perf_counter() - self._batch)
            self.batch_cpu_s.append(time.process_time() - self._batch_cpu)
            first = batch[0] if isinstance(batch, (list, tuple)) else batch
            self.batch_n.append(int(first.shape[0]))

        def on_validation_epoch_start(self, trainer, pl_module) -> None:
            self._val = time.perf_counter()

        def on_validation_epoch_end(self, trainer, pl_module) -> None:
            self.val_s.append(time.perf_counter() - self._val)

    return Timer()


def make(name: str, max_epochs: int, quick: bool, callback: Any,
         limit_steps: int | None = None):
    """A global forecaster of `name` for the panel, horizon 24, otherwise defaults;
    `limit_steps` caps the training batches of an epoch (Lightning's limit_train_batches)."""
    trainer_kwargs: dict[str, Any] = {"enable_progress_bar": False, "callbacks": [callback]}
    if limit_steps:
        trainer_kwargs["limit_train_batches"] = limit_steps
    common = {"horizon": HORIZON, "id_col": ID, "time_col": TIME, "max_epochs": max_epochs,
              "random_state": 0, "trainer_kwargs": trainer_kwargs}
    if name == "txl":
        from txl_ts import TXLForecaster

        return TXLForecaster(**common, **(QUICK_PARAMS if quick else {}))
    if name == "lstm":
        from txl_ts.baselines import LSTMForecaster

        return LSTMForecaster(**common)
    from txl_ts.baselines import DLinearForecaster

    return DLinearForecaster(**common)


def _median_time(fn, repeats: int, cpu: list[float] | None = None
                 ) -> tuple[float, list[float]]:
    """Median wall seconds of `fn` over `repeats` calls after a warm-up, and all of them;
    the CPU seconds of each call are appended to `cpu` when given."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - began)
        if cpu is not None:
            cpu.append(time.process_time() - began_cpu)
    return float(statistics.median(times)), times


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One model at one size, in this process: fit cost, peak memory, prediction ratio."""
    import torch

    torch.set_num_threads(1)
    n, quick = spec["n_series"], spec["quick"]
    rss_start = peak_rss_mb()
    df = panel(n, QUICK_LENGTH if quick else LENGTH, seed=0)
    gc.collect()
    rss_data = peak_rss_mb()
    timer = _timer()
    limit = spec.get("limit_steps")
    model = make(spec["model"], spec["max_epochs"], quick, timer, limit)
    began, began_cpu = time.perf_counter(), time.process_time()
    model.fit(df)
    fit_s, fit_cpu_s = time.perf_counter() - began, time.process_time() - began_cpu
    rss_fit = peak_rss_mb()
    summary = dict(getattr(model, "fit_summary_", None) or {})
    if not timer.batch_s:
        raise RuntimeError("the timing callback saw no training batch: trainer_kwargs "
                           "callbacks did not reach the trainer")
    steady = timer.batch_s[1:] or timer.batch_s  # the first batch warms up
    windows = sum(timer.batch_n)
    row: dict[str, Any] = {
        "model": spec["model"], "n_series": n, "rows_per_series": len(df) // n,
        "max_epochs": spec["max_epochs"], "epochs": summary.get("epochs"),
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "epoch_s": timer.epoch_s,
        "s_per_epoch": float(np.mean(timer.epoch_s)),
        "validation_s": timer.val_s,
        "steps": len(timer.batch_s),
        "steps_per_epoch": len(timer.batch_s) / max(1, len(timer.epoch_s)),
        "limit_steps": limit,
        "full_steps_per_epoch": timer.full_batches,
        "full_windows_per_epoch": timer.full_windows,
        "batch_size": model.batch_size,
        "windows_trained": windows,
        "s_per_step": float(statistics.median(steady)),
        "s_per_step_mean": float(np.mean(timer.batch_s)),
        "cpu_s_per_step": float(statistics.median(timer.batch_cpu_s[1:] or timer.batch_cpu_s)),
        "cpu_windows_per_s": windows / sum(timer.batch_cpu_s),
        "windows_per_s": windows / sum(timer.batch_s),
        "peak_rss_mb_start": rss_start,
        "peak_rss_mb_data": rss_data,
        "peak_rss_mb_fit": rss_fit,
        "fit_summary": {k: v for k, v in summary.items()
                        if isinstance(v, (int, float, bool, str)) or v is None},
    }
    if limit and timer.full_batches > len(timer.batch_s):
        # the epoch was capped: its full length at the measured cost per step, plus the
        # validation pass, which the cap does not shorten
        val = float(np.mean(timer.val_s)) if timer.val_s else 0.0
        row["s_per_epoch_full_estimate"] = timer.full_batches * row["s_per_step_mean"] + val
        row["cpu_s_per_epoch_training_full_estimate"] = (timer.full_batches
                                                         * float(np.mean(timer.batch_cpu_s)))
    print(f"{spec['model']} N={n}: fit {fit_s:.1f}s, {row['s_per_epoch']:.1f} s/epoch, "
          f"{row['s_per_step'] * 1e3:.1f} ms/step ({row['steps']} steps), "
          f"{row['windows_per_s']:.0f} windows/s, peak {rss_fit:.0f} MB", file=sys.stderr,
          flush=True)
    if spec["predict"]:
        single = make(spec["model"], spec["max_epochs"], quick, _timer(), limit)
        single.fit(df[df[ID] == df[ID].iloc[0]])
        row["predict"] = time_predict(model, single, df, spec["repeats"],
                                      spec["history_all"])
        row["peak_rss_mb_end"] = peak_rss_mb()
    return row


def time_predict(model: Any, single: Any, df: pd.DataFrame, repeats: int,
                 history_all: bool) -> dict[str, Any]:
    """predict() for all series against one series' predict, from the fitted states.

    `single` is the same estimator fitted on the long frame of the first series alone: its
    predict() runs the same long-frame code for one series (other weights, same cost)."""
    first = df[ID].iloc[0]
    one = model.series_model(first)
    all_cpu: list[float] = []
    one_cpu: list[float] = []
    single_cpu: list[float] = []
    all_s, all_times = _median_time(model.predict, repeats, all_cpu)
    one_s, one_times = _median_time(one.predict, repeats, one_cpu)
    single_s, single_times = _median_time(single.predict, repeats, single_cpu)
    frame = model.predict()
    if frame[ID].nunique() != df[ID].nunique() or len(frame) != HORIZON * df[ID].nunique():
        raise RuntimeError(f"predict() returned {len(frame)} rows for "
                           f"{df[ID].nunique()} series")
    # the batched pass forecasts the first series as its own wide view does
    gap = float(np.abs(frame[frame[ID] == first][VALUE].to_numpy()
                       - one.predict().iloc[:, 0].to_numpy()).max())
    history_one = df[df[ID] == first]
    hist_s, hist_times = _median_time(lambda: model.predict(history=history_one), repeats)
    out = {
        "repeats": repeats,
        "all_series_s": all_s, "all_series_s_all": all_times,
        "one_series_s": one_s, "one_series_s_all": one_times,
        "ratio_all_over_one": all_s / one_s,
        # other jobs inflate single wall times: the CPU-time ratio and the ratio of the
        # fastest calls are the contention-free views of the same comparison
        "all_series_cpu_s": float(statistics.median(all_cpu)),
        "one_series_cpu_s": float(statistics.median(one_cpu)),
        "one_series_long_model_cpu_s": float(statistics.median(single_cpu)),
        "ratio_all_over_one_cpu": statistics.median(all_cpu) / statistics.median(one_cpu),
        "ratio_all_over_one_series_long_model_cpu":
            statistics.median(all_cpu) / statistics.median(single_cpu),
        "ratio_all_over_one_min": min(all_times) / min(one_times),
        "max_abs_diff_batched_vs_one": gap,
        "one_series_long_model_s": single_s, "one_series_long_model_s_all": single_times,
        "ratio_all_over_one_series_long_model": all_s / single_s,
        "history_one_series_s": hist_s, "history_one_series_s_all": hist_times,
        "ratio_all_over_history_one": all_s / hist_s,
    }
    if history_all:
        began = time.perf_counter()
        model.predict(history=df)
        out["history_all_series_s"] = time.perf_counter() - began  # once: it is slow
    print(f"  predict: all {all_s * 1e3:.1f} ms, one {one_s * 1e3:.2f} ms, ratio "
          f"{out['ratio_all_over_one']:.1f}x; 1-series long model {single_s * 1e3:.2f} ms "
          f"({out['ratio_all_over_one_series_long_model']:.1f}x); history of one "
          f"{hist_s * 1e3:.1f} ms",
          file=sys.stderr, flush=True)
    return out


def in_subprocess(spec: dict[str, Any]) -> dict[str, Any]:
    """`measure(spec)` in a fresh interpreter: its peak memory is this run's alone."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.panel_scale", "--worker", json.dumps(spec)],
        stdout=subprocess.PIPE, stderr=None, text=True, env=env,
        cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scaling(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The largest TXL size against the smallest: steps (wall and CPU), epochs (a capped
    epoch by its full-length estimate) and peak memory."""
    txl = [r for r in rows if r["model"] == "txl"]
    if len(txl) < 2:
        return None
    small, large = txl[0], txl[-1]

    def epoch(r: dict[str, Any], key: str) -> float:
        return r.get(f"{key}_full_estimate", r[key])

    return {
        "sizes": [small["n_series"], large["n_series"]],
        "series_ratio": large["n_series"] / small["n_series"],
        "s_per_step_ratio": large["s_per_step"] / small["s_per_step"],
        "cpu_s_per_step_ratio": large["cpu_s_per_step"] / small["cpu_s_per_step"],
        "s_per_epoch_ratio": epoch(large, "s_per_epoch") / epoch(small, "s_per_epoch"),
        "s_per_epoch_large_is_estimate": "s_per_epoch_full_estimate" in large,
        "peak_rss_mb_growth": large["peak_rss_mb_fit"] - small["peak_rss_mb_fit"],
    }


def summary_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| model | series | epochs | fit s | s/epoch | steps/epoch | s/step | windows/s "
             "| peak MB | predict all / one | all / 1-series model |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = r.get("predict", {}).get("ratio_all_over_one")
        other = r.get("predict", {}).get("ratio_all_over_one_series_long_model")
        lines.append(
            f"| {r['model']} | {r['n_series']} | {r['epochs']} | {r['fit_s']:.1f} | "
            f"{r['s_per_epoch']:.1f} | {r['steps_per_epoch']:.0f} | {r['s_per_step']:.4f} | "
            f"{r['windows_per_s']:.0f} | {r['peak_rss_mb_fit']:.0f} | "
            f"{'n/a' if ratio is None else f'{ratio:.1f}x'} | "
            f"{'n/a' if other is None else f'{other:.1f}x'} |")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None,
                        help="comma-separated numbers of series (default 10,100,1000; "
                             "--quick: 3,12)")
    parser.add_argument("--max-epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5, help="predict timings (median)")
    parser.add_argument("--limit-steps", type=int, default=None,
                        help="cap the training steps of an epoch (limit_train_batches); "
                             "s/epoch is then also extrapolated to the full epoch")
    parser.add_argument("--keep", type=Path, default=None,
                        help="a results file whose rows for other sizes / models are kept")
    parser.add_argument("--baselines", action="store_true",
                        help="also LSTM and DLinear global fits (1 epoch) at the largest size")
    parser.add_argument("--history-all", action="store_true",
                        help="also time predict(history=<whole panel>) once")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny sizes, {QUICK_LENGTH} rows, a tiny network, in this "
                             "process (a smoke test; memory is not per size)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(measure(json.loads(args.worker))))
        return {}
    from txl_ts.benchmark import _json_safe, machine_info, write_json_atomic

    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [3, 12] if args.quick else [10, 100, 1000])
    out = args.out or (OUT.with_name(f"{NAME}_quick.json") if args.quick else OUT)
    run = measure if args.quick else in_subprocess  # --quick: no fresh interpreters
    began = time.perf_counter()
    payload: dict[str, Any] = {
        "benchmark": f"panel_{NAME}",
        "smoke": args.quick,
        "machine": machine_info(),
        "shared_machine": "other benchmark jobs ran on the same 2 cores: absolute times are "
                          "upper bounds; the predict ratio is measured within one process",
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {"horizon": HORIZON, "rows_per_series": QUICK_LENGTH if args.quick
                   else LENGTH, "frequency": "h", "max_epochs": args.max_epochs,
                   "model": "TXLForecaster defaults" if not args.quick else QUICK_PARAMS,
                   "repeats": args.repeats, "omp_num_threads": 1, "torch_threads": 1,
                   "limit_steps": args.limit_steps,
                   "fresh_process_per_size": not args.quick,
                   "predict_ratio": "model.predict() for all series / "
                                    "model.series_model(first).predict(), both from the "
                                    "fitted state, medians in one process"},
        "nhits_reference": NHITS,
        "results": [],
    }
    jobs = [("txl", n) for n in sizes]
    if args.baselines:
        jobs += [("lstm", sizes[-1]), ("dlinear", sizes[-1])]
    if args.keep is not None:  # rows of an earlier run, for the sizes this run does not redo
        kept = json.loads(args.keep.read_text())
        payload["results"] = [r for r in kept["results"]
                              if (r["model"], r["n_series"]) not in jobs]
        payload["kept_from"] = {"path": str(args.keep), "started_utc": kept.get("started_utc"),
                                "rows": [[r["model"], r["n_series"]]
                                         for r in payload["results"]]}
    for name, n in jobs:
        spec = {"model": name, "n_series": n, "quick": args.quick,
                "max_epochs": args.max_epochs if name == "txl" else 1,
                "predict": True, "repeats": args.repeats, "limit_steps": args.limit_steps,
                "history_all": args.history_all and name == "txl"}
        payload["results"].append(run(spec))
        payload["runtime_seconds"] = time.perf_counter() - began
        payload["load_average_end"] = list(os.getloadavg())
        write_json_atomic(out, _json_safe(payload))  # a stopped run keeps the sizes done
    payload["scaling"] = scaling(payload["results"])
    payload["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json_atomic(out, _json_safe(payload))
    print("\n".join(summary_table(payload["results"])))
    print(f"wrote {out}")
    return payload


if __name__ == "__main__":
    main()
