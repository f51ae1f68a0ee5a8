"""Latency of absorbing one new step and forecasting: streaming vs re-encoding the history.

Streaming: `update(one_row)` then `predict()`, over `--steps` (1,000) consecutive single-row
updates from each history length; the memory advances by a new token only when a patch
completes (every `stride` rows), so the distribution has a cheap bulk and a tail of
patch-completing steps. Reported per length: median, 99th percentile and worst step, the
median of the patch-completing steps, and the network part alone (`Stream.feed` plus the
forecast read, on the same rows).

Re-encoding: `predict(history=all rows so far)`, which runs the network over the whole
history; it is timed `--reencodes` times, interleaved with the streaming steps so that both
see the same machine load. Ratios are re-encode median / streaming statistic.

Batched updates: `update(k rows)` + `predict()` against the network part alone for the same
k rows, at the middle history length: the difference is one validation + scaling + frame.

    python -m benchmarks.streaming_vs_reencode [--smoke] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine, new_figure, set_threads, synthetic_frame, write_json

DEFAULT_ARCH = "the default TXLForecaster architecture"
NAME = "streaming_vs_reencode"


def _model(smoke: bool):
    from txl_ts import TXLForecaster

    quiet = {"enable_progress_bar": False}
    if smoke:
        return TXLForecaster(horizon=8, patch_len=8, stride=4, d_model=16, n_heads=2,
                             n_layers=1, d_ff=32, segment_len=4, mem_len=8, n_segments=2,
                             max_epochs=1, val_size=0, trainer_kwargs=quiet)
    return TXLForecaster(max_epochs=1, val_size=0, trainer_kwargs=quiet)  # default architecture


def _stats(seconds: list[float]) -> dict[str, float]:
    a = np.asarray(seconds)
    return {"median_s": float(np.median(a)), "p99_s": float(np.percentile(a, 99)),
            "worst_s": float(a.max())}


def _network_only(model, state, scaled: np.ndarray, chunk: int) -> list[float]:
    """Seconds of `Stream.feed` + forecast read per `chunk` rows (no pandas, no validation)."""
    stream, seconds = model._stream(), []
    for lo in range(0, len(scaled), chunk):
        start = time.perf_counter()
        state = stream.feed(state, scaled[lo : lo + chunk])[1]
        model._read_forecast(state, model._probe_covariates())
        seconds.append(time.perf_counter() - start)
    return seconds


def _stream_steps(model, df, start: int, steps: int, reencodes: int):
    """`steps` consecutive 1-row update+predict from row `start`, with `reencodes`
    re-encodings of the history so far spread evenly among them."""
    rows = [df.iloc[start + j : start + j + 1] for j in range(steps)]
    at = set(np.linspace(0, steps, reencodes, endpoint=False, dtype=int).tolist())
    seconds, cpu, completing, reencode, reencode_cpu, max_diff = [], [], [], [], [], 0.0
    for j, row in enumerate(rows):
        before = model.get_state().stream.n_rows
        c0, t0 = time.thread_time(), time.perf_counter()
        model.update(row)
        streamed = model.predict()
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        if (before + 1 - model.patch_len_) % model.stride_ == 0:  # this row completed a patch
            completing.append(seconds[-1])
        if j in at:
            c0, t0 = time.thread_time(), time.perf_counter()
            full = model.predict(history=df.iloc[: start + j + 1])
            reencode.append(time.perf_counter() - t0)
            reencode_cpu.append(time.thread_time() - c0)
            max_diff = max(max_diff, float(np.abs(streamed.to_numpy() - full.to_numpy()).max()))
    return seconds, cpu, completing, reencode, reencode_cpu, max_diff


def _batched(model, df, start: int, sizes: list[int], repeats: int) -> list[dict]:
    """update(k rows) + predict() vs the network part alone on the same k scaled rows."""
    state = model.get_state()
    out = []
    for k in sizes:
        frame = df.iloc[start : start + k]
        scaled = model._scale(frame.to_numpy())
        total, network = [], []
        for _ in range(repeats):
            model.set_state(state)
            t0 = time.perf_counter()
            model.update(frame)
            model.predict()
            total.append(time.perf_counter() - t0)
            network += _network_only(model, state.stream, scaled, k)
        model.set_state(state)
        t_med, n_med = float(np.median(total)), float(np.median(network))
        out.append({"rows": k, "update_predict_s": t_med, "network_s": n_med,
                    "overhead_s": t_med - n_med, "per_row_s": t_med / k})
    return out


def run(lengths: list[int], n_channels: int, steps: int, reencodes: int, smoke: bool,
        dataset: str | None = None) -> dict:
    model = _model(smoke)
    if dataset:  # real data: the bundled hourly set, as long as it lasts
        from txl_ts.datasets import load

        df = load(dataset)
        lengths = [n for n in lengths if n + steps <= len(df)]
    else:
        df = synthetic_frame(max(lengths) + steps + 600, n_channels)
    n_fit = lengths[0]
    model.fit(df.iloc[:n_fit])
    load_before = os.getloadavg()
    rows, known, batched = [], n_fit, []
    for length in lengths:
        if length > known:  # advance the stream to `length` rows (linear, done once)
            model.update(df.iloc[known:length])
        state = model.get_state()
        seconds, cpu, completing, reencode, reencode_cpu, max_diff = _stream_steps(
            model, df, length, steps, reencodes)
        scaled = model._scale(df.iloc[length : length + steps].to_numpy())
        network = _network_only(model, state.stream, scaled, 1)
        # the same rows as the streaming steps: step j completes a patch iff it did there
        first = (model.patch_len_ - length - 1) % model.stride_  # (length + j + 1 - P) % S == 0
        net_completing = network[first :: model.stride_]
        known = length + steps
        stream, net, stream_cpu = _stats(seconds), _stats(network), _stats(cpu)
        re_med, re_cpu = float(np.median(reencode)), float(np.median(reencode_cpu))
        rows.append({
            "history_rows": length,
            "tokens_per_channel": (length - model.patch_len_) // model.stride_ + 1,
            "steps": steps,
            "reencode_s": re_med,
            "reencode_min_s": float(np.min(reencode)),
            "n_reencodes": len(reencode),
            "stream_median_s": stream["median_s"],
            "stream_p99_s": stream["p99_s"],
            "stream_worst_s": stream["worst_s"],
            "stream_completing_median_s": float(np.median(completing)),
            "network_median_s": net["median_s"],
            "network_p99_s": net["p99_s"],
            "network_worst_s": net["worst_s"],
            "network_completing_median_s": float(np.median(net_completing)),
            "ratio_median": re_med / stream["median_s"],
            "ratio_p99": re_med / stream["p99_s"],
            "ratio_worst": re_med / stream["worst_s"],
            # thread CPU time leaves out the time this process waited for a core (the
            # machine is shared): what the same steps cost when they are not preempted
            "reencode_cpu_s": re_cpu,
            "stream_cpu_median_s": stream_cpu["median_s"],
            "stream_cpu_p99_s": stream_cpu["p99_s"],
            "stream_cpu_worst_s": stream_cpu["worst_s"],
            "ratio_cpu_worst": re_cpu / stream_cpu["worst_s"],
            "max_abs_diff_stream_vs_reencode": max_diff,
        })
        r = rows[-1]
        print(f"{length:>7} rows: re-encode {re_med * 1e3:9.2f} ms | update+predict median "
              f"{r['stream_median_s'] * 1e3:.3f} ms, p99 {r['stream_p99_s'] * 1e3:.3f} ms, "
              f"worst {r['stream_worst_s'] * 1e3:.3f} ms | ratio median {r['ratio_median']:.0f}x"
              f", worst {r['ratio_worst']:.0f}x"
              f" | patch-completing step median "
              f"{r['stream_completing_median_s'] * 1e3:.3f} ms (network "
              f"{r['network_completing_median_s'] * 1e3:.3f} ms)\n"
              f"{'':>7}       CPU time: update+predict median "
              f"{r['stream_cpu_median_s'] * 1e3:.3f} ms, p99 {r['stream_cpu_p99_s'] * 1e3:.3f} ms"
              f", worst {r['stream_cpu_worst_s'] * 1e3:.3f} ms | re-encode {re_cpu * 1e3:.2f} ms "
              f"| ratio worst {r['ratio_cpu_worst']:.0f}x")
        sizes = [1, 8, 64, 512] if not smoke else [1, 4, 16]
        if length == lengths[len(lengths) // 2] and known + sizes[-1] <= len(df):
            batched = _batched(model, df, known, sizes, repeats=7 if not smoke else 2)
            for b in batched:
                print(f"   update({b['rows']:>3} rows)+predict {b['update_predict_s'] * 1e3:8.3f} "
                      f"ms, network {b['network_s'] * 1e3:8.3f} ms, "
                      f"rest {b['overhead_s'] * 1e3:6.3f} ms")
    params = {k: v for k, v in model.get_params().items() if k != "trainer_kwargs"}
    return {
        "benchmark": NAME,
        "smoke": smoke,
        "machine": machine(),
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "config": {
            "architecture": "tiny smoke model" if smoke else DEFAULT_ARCH,
            "model": params,
            "resolved": {"patch_len": model.patch_len_, "stride": model.stride_,
                         "lookback": model.lookback_},
            "training": f"1 epoch on the first {n_fit} rows (latency does not depend on weights)",
            "n_channels": df.shape[1],
            "steps": steps,
            "reencodes": reencodes,
            "batched_at_rows": lengths[len(lengths) // 2],
            "data": (f"the bundled {dataset} data set (real hourly series)" if dataset else
                     "a synthetic hourly series: daily + weekly cycles, random walk, noise"),
        },
        "results": rows,
        "batched": batched,
    }


def plot(payload: dict, path: Path) -> None:
    plt, fig, (ax, ax_ratio) = new_figure(2)
    res = payload["results"]
    x = [r["history_rows"] for r in res]
    ax.plot(x, [r["reencode_s"] * 1e3 for r in res], "o-", label="re-encode: predict(history)")
    for key, style, label in (("stream_median_s", "s-", "update(1 row)+predict, median"),
                              ("stream_p99_s", "^--", "p99"), ("stream_worst_s", "v:", "worst")):
        ax.plot(x, [r[key] * 1e3 for r in res], style, label=label)
    ax.set(xscale="log", yscale="log", xlabel="history length (rows)", ylabel="latency (ms)",
           title="Absorb one step and forecast")
    ax.legend(fontsize=8)
    ax_ratio.plot(x, [r["ratio_median"] for r in res], "o-", label="vs median step")
    ax_ratio.plot(x, [r["ratio_worst"] for r in res], "^--", label="vs worst step")
    ax_ratio.set(xscale="log", yscale="log", xlabel="history length (rows)",
                 ylabel="re-encode / streaming", title="Speed-up of streaming")
    ax_ratio.legend(fontsize=8)
    fig.suptitle(payload["machine"]["cpu"] + f", {payload['machine']['torch_threads']} thread(s)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model and lengths (seconds)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--lengths", type=int, nargs="+", default=None)
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--reencodes", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dataset", default=None,
                        help="a bundled data set (ETTh1, ...) instead of the synthetic series")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    lengths = args.lengths or ([300, 600] if args.smoke else [1000, 16000, 64000])
    steps = args.steps or (40 if args.smoke else 1000)
    reencodes = args.reencodes or (2 if args.smoke else 5)
    payload = run(sorted(lengths), args.channels if not args.smoke else 2, steps, reencodes,
                  args.smoke, args.dataset)
    name = NAME if args.dataset is None else f"{NAME}_{args.dataset}"
    write_json(args.out, name, payload)
    plot(payload, args.out / f"{name}.png")
    return payload


if __name__ == "__main__":
    main()
