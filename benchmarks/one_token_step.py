"""The one-token network step of streaming, paired: the general path vs `TXLNet.step`.

One in `stride` single-row updates completes a patch and runs the network for one new token.
This script times exactly those steps, from the same states and rows, once through the general
path (`Stream(..., one_token=False)`: `TXLNet.forward` with its mask, relative shift and
einsums, every context token projected again) and once through the one-token step, in
alternating order, in one process (the machine is shared: pairs see the same load):

- `feed`: `Stream.feed` of the one row, with the context's keys/values cached in the state
  (as in steady streaming) and, for the one-token step, also without them (the first step after
  `fit`, `load`, `set_state` of a saved state or `reset_state`, which projects them once);
- `update_predict`: the whole `update(one row)` + `predict()` of the estimator.

Reported: medians of thread CPU time and wall clock, the median of the per-pair ratios, and
the largest difference between the two paths' head outputs and forecasts. Also what bounds the
step: the aten operators each path dispatches and the floating-point operations it does (torch's
FlopCounterMode), and the one-token `feed` timed warm (the third of three back-to-back calls
from the same state) beside its time inside the alternating sequence above.

    python -m benchmarks.one_token_step [--smoke] [--rows 16000] [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import RESULTS, machine, set_threads, synthetic_frame, write_json
from benchmarks.streaming_vs_reencode import _model
from txl_ts import TXLState
from txl_ts.txl import Memory, Stream, StreamState

NAME = "one_token_step"


def _clock(fn, *args) -> tuple[float, float, object]:
    """(thread CPU seconds, wall seconds, result) of one call."""
    c0, t0 = time.thread_time(), time.perf_counter()
    out = fn(*args)
    return time.thread_time() - c0, time.perf_counter() - t0, out


def _update_predict(model, row):
    model.update(row)
    return model.predict()


class _CountOps(TorchDispatchMode):
    """Counts the aten operators dispatched inside it (below autograd: what actually runs)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n += 1
        return func(*args, **(kwargs or {}))


def _cost(stream, state, scaled) -> dict[str, int]:
    """aten operators and floating-point operations of one `feed`."""
    with _CountOps() as ops:
        stream.feed(state, scaled)
    with FlopCounterMode(display=False) as flops:
        stream.feed(state, scaled)
    return {"aten_ops": ops.n, "flops": int(flops.get_total_flops())}


def _float32(state: StreamState) -> StreamState:
    """`state` with float32 tensors (the row count stays an int)."""
    m = state.memory
    memory = Memory(mems=tuple(t.float() for t in m.mems),
                    prefix=tuple(t.float() for t in m.prefix),
                    kv=None if m.kv is None else tuple(t.float() for t in m.kv))
    return dataclasses.replace(state, memory=memory, buffer=state.buffer.float(),
                               last_head=None if state.last_head is None
                               else state.last_head.float())


def _summary(cpu: list[float], wall: list[float]) -> dict[str, float]:
    return {"cpu_median_s": float(np.median(cpu)), "wall_median_s": float(np.median(wall)),
            "cpu_p90_s": float(np.percentile(cpu, 90))}


def run(rows: int, steps: int, repeats: int, n_channels: int, smoke: bool) -> dict:
    model = _model(smoke)
    n_fit = 300 if smoke else 1000
    df = synthetic_frame(rows + (steps + 2) * 24 * 4 + 100, n_channels)
    model.fit(df.iloc[:n_fit])
    model.update(df.iloc[n_fit:rows])
    stride, patch = model.stride_, model.patch_len_

    # the states right before `steps` consecutive patch-completing rows (single-row updates)
    pairs, end = [], rows
    while len(pairs) < steps:
        if (end + 1 - patch) % stride == 0:
            pairs.append((model.get_state(), df.iloc[end : end + 1]))
        model.update(df.iloc[end : end + 1])
        end += 1
    general = Stream(model.net_, model.grid_, model.segment_len, model.mem_len, one_token=False)
    fast = model._stream()
    # the one-token step in float32, as inference ran before it moved to float64
    net64, net32 = model.net_, copy.deepcopy(model.net_).float()
    fast32 = Stream(net32, model.grid_, model.segment_len, model.mem_len)

    def general_stream() -> Stream:
        return general

    load_before = os.getloadavg()

    times = {k: ([], []) for k in ("general", "one_token", "one_token_uncached",
                                    "one_token_float32")}
    full = {k: ([], []) for k in ("general", "one_token", "one_token_float32")}
    head_diff, forecast_diff = 0.0, 0.0
    for rep in range(repeats):
        for i, (state, row) in enumerate(pairs):
            scaled = model._scale(row.to_numpy())
            uncached = dataclasses.replace(state.stream, memory=dataclasses.replace(
                state.stream.memory, kv=None))
            state32 = _float32(state.stream)
            runs = [("general", general, state.stream), ("one_token", fast, state.stream),
                    ("one_token_uncached", fast, uncached), ("one_token_float32", fast32, state32)]
            outs = {}
            for name, stream, start in (runs if (i + rep) % 2 == 0 else runs[::-1]):
                cpu, wall, outs[name] = _clock(stream.feed, start, scaled)
                times[name][0].append(cpu)
                times[name][1].append(wall)
            head_diff = max(head_diff, float(
                (outs["general"][0] - outs["one_token"][0]).abs().max()))

            # the whole estimator step; the general path through an instance override
            frames = {}
            order = ("general", "one_token", "one_token_float32")
            for name in (order if (i + rep) % 2 == 0 else order[::-1]):
                if name == "general":
                    model._stream = general_stream
                if name == "one_token_float32":
                    model.net_ = net32
                    model.set_state(TXLState(state32, state.last_timestamp))
                else:
                    model.set_state(state)
                try:
                    cpu, wall, frames[name] = _clock(_update_predict, model, row)
                finally:
                    model.__dict__.pop("_stream", None)
                    model.net_ = net64
                full[name][0].append(cpu)
                full[name][1].append(wall)
            forecast_diff = max(forecast_diff, float(np.abs(
                frames["general"].to_numpy() - frames["one_token"].to_numpy()).max()))
    # warm: the third of three back-to-back calls from one state (caches hold its code and data)
    warm = []
    for state, row in [p for p in pairs if p[0].stream.memory.kv is not None][:100]:
        scaled = model._scale(row.to_numpy())
        for _ in range(3):
            cpu, _, _ = _clock(fast.feed, state.stream, scaled)
        warm.append(cpu)
    state, row = pairs[-1]  # keys/values cached, as in steady streaming
    assert state.stream.memory.kv is not None
    scaled = model._scale(row.to_numpy())
    cost = {"general": _cost(general, state.stream, scaled),
            "one_token": _cost(fast, state.stream, scaled)}
    load_after = os.getloadavg()

    def ratio(table, before: str, after: str, clock: int) -> float:
        return float(np.median(np.asarray(table[before][clock]) / np.asarray(table[after][clock])))

    results = {
        "feed": {k: _summary(*v) for k, v in times.items()},
        "update_predict": {k: _summary(*v) for k, v in full.items()},
        "feed_ratio_cpu": ratio(times, "general", "one_token", 0),
        "feed_ratio_wall": ratio(times, "general", "one_token", 1),
        "feed_ratio_uncached_cpu": ratio(times, "general", "one_token_uncached", 0),
        "update_predict_ratio_cpu": ratio(full, "general", "one_token", 0),
        "update_predict_ratio_wall": ratio(full, "general", "one_token", 1),
        # > 1: float64 costs that much more than float32 (paired, CPU time)
        "feed_float64_vs_float32_cpu": ratio(times, "one_token", "one_token_float32", 0),
        "update_predict_float64_vs_float32_cpu": ratio(full, "one_token", "one_token_float32",
                                                       0),
        "max_abs_diff_heads": head_diff,
        "max_abs_diff_forecasts": forecast_diff,
        "feed_one_token_warm_cpu_median_s": float(np.median(warm)),
        "cost": cost,
    }
    f, u = results["feed"], results["update_predict"]
    print(f"Stream.feed, patch-completing row (CPU median): general "
          f"{f['general']['cpu_median_s'] * 1e6:.0f} us, one-token "
          f"{f['one_token']['cpu_median_s'] * 1e6:.0f} us (keys/values not cached: "
          f"{f['one_token_uncached']['cpu_median_s'] * 1e6:.0f} us); paired ratio "
          f"{results['feed_ratio_cpu']:.2f}x")
    print(f"update(1 row)+predict, patch-completing (CPU median): general "
          f"{u['general']['cpu_median_s'] * 1e6:.0f} us, one-token "
          f"{u['one_token']['cpu_median_s'] * 1e6:.0f} us; paired ratio "
          f"{results['update_predict_ratio_cpu']:.2f}x")
    print(f"max abs diff: heads {head_diff:.1e}, forecasts {forecast_diff:.1e} (original units)")
    print(f"float64 vs float32 (paired CPU ratio): feed "
          f"{results['feed_float64_vs_float32_cpu']:.2f}x, update+predict "
          f"{results['update_predict_float64_vs_float32_cpu']:.2f}x")
    print(f"one-token feed warm {np.median(warm) * 1e6:.0f} us; aten ops general "
          f"{cost['general']['aten_ops']}, one-token {cost['one_token']['aten_ops']}; flops "
          f"general {cost['general']['flops']:,}, one-token {cost['one_token']['flops']:,}")
    params = {k: v for k, v in model.get_params().items() if k != "trainer_kwargs"}
    return {
        "benchmark": NAME,
        "smoke": smoke,
        "machine": machine(),
        "load_average": {"before": list(load_before), "after": list(load_after)},
        "config": {
            "architecture": "tiny smoke model" if smoke else "the default TXLForecaster "
                            "architecture",
            "model": params,
            "resolved": {"patch_len": patch, "stride": stride, "lookback": model.lookback_},
            "training": f"1 epoch on the first {n_fit} rows (latency does not depend on weights)",
            "n_channels": n_channels,
            "history_rows": rows,
            "steps": steps,
            "repeats": repeats,
            "data": "a synthetic hourly series: daily + weekly cycles, random walk, noise",
        },
        "results": results,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, few steps (seconds)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--rows", type=int, default=None, help="history before the steps")
    parser.add_argument("--steps", type=int, default=None, help="patch-completing steps")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    payload = run(args.rows or (400 if args.smoke else 16000),
                  args.steps or (6 if args.smoke else 300),
                  args.repeats or (1 if args.smoke else 3),
                  2 if args.smoke else args.channels, args.smoke)
    write_json(args.out, NAME, payload)
    return payload


if __name__ == "__main__":
    main()
